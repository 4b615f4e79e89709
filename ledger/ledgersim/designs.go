package ledgersim

import (
	"fmt"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/ledger"
)

// ---- today: every receipt gossiped to every node ----

// maxGossipMsg bounds a message on the ledger topic (mesh.MaxLedgerMsg).
const maxGossipMsg = 16 << 10

// gossipMsg is what the ledger topic carried before the change
// (mesh.LedgerMsg then): exactly one of a receipt, a fraud proof or a
// grant.
type gossipMsg struct {
	V       int             `json:"v"`
	Receipt *job.Receipt    `json:"receipt,omitempty"`
	Fraud   *job.FraudProof `json:"fraud,omitempty"`
	Grant   *job.Grant      `json:"grant,omitempty"`
}

// Validate checks that m holds exactly one valid record, as the topic's
// validator did.
func (m *gossipMsg) Validate() error {
	if m.V != job.Version {
		return fmt.Errorf("v: version %d, want %d", m.V, job.Version)
	}
	n := 0
	for _, set := range []bool{m.Receipt != nil, m.Fraud != nil, m.Grant != nil} {
		if set {
			n++
		}
	}
	switch {
	case n != 1:
		return fmt.Errorf("a ledger message holds exactly one of receipt, fraud, grant (it holds %d)", n)
	case m.Receipt != nil:
		return m.Receipt.Validate()
	case m.Fraud != nil:
		return m.Fraud.Validate()
	}
	return m.Grant.Validate()
}

// gossip publishes r as today's node did (its payer, and with Publishers
// 2 its payee too, each a message of its own): every node but the
// publisher receives each publication from each of its D mesh peers.
func (s *sim) gossip(r *job.Receipt, c, p int) error {
	for _, pub := range []int{c, p}[:s.cfg.Publishers] {
		var msg []byte
		enc := func() error { msg = job.Encode(&gossipMsg{V: job.Version, Receipt: r}); return nil }
		if k, ok := s.sampleOf[pub]; ok {
			_ = s.today[k].timed(enc)
		} else {
			_ = enc()
		}
		s.sized("gossip receipt", len(msg))
		for k, n := range s.sample {
			if n == pub {
				continue
			}
			if err := s.receiveGossip(&s.today[k], s.todayBook[k], msg, s.cfg.GossipDegree); err != nil {
				return fmt.Errorf("node %s receiving receipt %d of %s: %w", s.names[n], r.Seq, r.Payer, err)
			}
		}
	}
	return nil
}

// receiveGossip charges c a gossiped message received d times: GossipSub
// drops the copies after the first by message ID (uncounted CPU); the
// first is decoded, validated and added to b, with one write and one
// fsync when it is new (Ledger.AddReceipt, AddGrant).
func (s *sim) receiveGossip(c *cost, b *ledger.Book, msg []byte, d int) error {
	c.msgs += int64(d)
	c.bytes += int64(d * len(msg))
	return c.timed(func() error {
		var m gossipMsg
		if err := job.Decode(msg, maxGossipMsg, &m); err != nil {
			return err
		}
		var added bool
		var err error
		if m.Receipt != nil {
			added, err = keep(c, b, m.Receipt)
		} else if m.Grant != nil {
			added, err = keepGrant(c, b, m.Grant)
		}
		if added {
			c.fsyncs++
		}
		return err
	})
}

// ---- the new design: receipts to their accounts' holders ----

// push is a party's sending of r to ledger.Recipients: one StoreRequest
// per recipient (one receipt each: the node batches up to
// ledger.MaxStoreRecords within 20 ms, which at these rates rarely joins
// two), answered by a StoreAnswer. The recipient keeps what it accepts
// as the node's serveLedgerStore does (Ledger.AddAll): each record
// verified, one write and one fsync for the request when any is new.
func (s *sim) push(r *job.Receipt, from int) error {
	fc := &s.cost[from]
	var req []byte
	_ = fc.timed(func() error {
		req = job.Encode(&ledger.StoreRequest{V: job.Version, Receipts: []job.Receipt{*r}})
		return nil
	})
	s.sizedRecs("store request", len(req), 1)
	self := s.names[from]
	for _, to := range ledger.Recipients(r, self, s.holders) {
		n := s.index[to]
		if err := s.ensureGrant(n, s.index[r.Payer]); err != nil {
			return err
		}
		nc := &s.cost[n]
		nc.msgs++
		nc.bytes += int64(len(req))
		var ans []byte
		err := nc.timed(func() error {
			var q ledger.StoreRequest
			if err := job.Decode(req, ledger.MaxStoreRequest, &q); err != nil {
				return err
			}
			var a ledger.StoreAnswer
			added := 0
			for i := range q.Receipts {
				if q.Receipts[i].Payer != self && q.Receipts[i].Payee != self {
					a.Refused++
					continue
				}
				ok, err := keep(nc, s.book(n), &q.Receipts[i])
				if err != nil {
					return err
				}
				if ok {
					added++
				}
				a.Stored++
			}
			if added > 0 {
				nc.fsyncs++
			}
			ans = job.Encode(&a)
			return nil
		})
		if err != nil {
			return fmt.Errorf("%s storing receipt %d of %s from %s: %w", to, r.Seq, r.Payer, self, err)
		}
		s.sized("store answer", len(ans))
		fc.msgs++
		fc.bytes += int64(len(ans))
		err = fc.timed(func() error {
			var a ledger.StoreAnswer
			if err := job.Decode(ans, 2048, &a); err != nil {
				return err
			}
			if a.Refused > 0 {
				return fmt.Errorf("refused: %s", a.Error)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("%s's answer to %s: %w", to, self, err)
		}
	}
	return nil
}

// judge is provider p's look at client c before serving it a job of
// amount, as the node's judge: at most once per ledger.SyncEvery it
// fetches c's records from c's holders, asking only for what is newer
// than what it holds when it synced c before; then it serves c if the
// credits c has free cover amount.
func (s *sim) judge(p, c int, amount job.Credits, t float64) (bool, error) {
	if err := s.ensureGrant(p, c); err != nil {
		return false, err
	}
	pc := &s.cost[p]
	k := [2]int{p, c}
	if last, ok := s.lastSync[k]; !ok || t-last >= ledger.SyncEvery.Seconds() {
		s.lastSync[k] = t
		answered, err := s.sync(p, c, t)
		if err != nil {
			return false, err
		}
		if answered {
			s.answered[k] = t
		}
		s.checkJudge(p, c)
	}
	var avail job.Credits
	_ = pc.timed(func() error { avail = s.book(p).Available(s.names[c]); return nil })
	return avail >= amount, nil
}

// since is the SinceMS of judge p's sync of client c: its last answered
// sync of c less ledger.SyncMargin, in unix ms (the node's
// syncState.since); 0 when it never synced c (send everything).
func (s *sim) since(p, c int) int64 {
	at, ok := s.answered[[2]int{p, c}]
	if !ok {
		return 0
	}
	return epochMS + int64(at*1000) - ledger.SyncMargin.Milliseconds()
}

// sync is p's fetching of c's records at simulated time t, as the node's
// syncAccount: a SyncRequest to each of c's holders (p left out) with
// After, how far c's chain counts in p's book, and SinceMS (since); the
// node sends them at once, so each carries what p held before any
// answer. Each holder answers with Book.RecordsSince; p adds each answer's
// records one by one, verifying each (a record it has is a cheap
// duplicate), and counts one write and one fsync per answer that held
// anything new (Ledger.AddAll). It reports whether any holder was asked.
func (s *sim) sync(p, c int, t float64) (bool, error) {
	account := s.names[c]
	pc := &s.cost[p]
	s.checks.Syncs++
	var req []byte
	var q0 ledger.SyncRequest
	_ = pc.timed(func() error {
		q0 = ledger.SyncRequest{V: job.Version, Account: account, After: s.book(p).CountedChain(account), SinceMS: s.since(p, c)}
		req = job.Encode(&q0)
		return nil
	})
	kind := "sync answer"
	if q0.SinceMS > 0 {
		s.checks.IncrementalSyncs++
		kind = "sync answer, incremental"
	}
	asked := false
	var leftOut []*job.Receipt // of incremental answers
	for _, h := range s.holderNodes(account) {
		if h == p {
			continue
		}
		asked = true
		s.sized("sync request", len(req))
		hc := &s.cost[h]
		hc.msgs++
		hc.bytes += int64(len(req))
		ans, nrecs, err := s.answerSync(h, req)
		if err != nil {
			return asked, fmt.Errorf("holder %s answering %s: %w", s.names[h], s.names[p], err)
		}
		s.sizedRecs(kind, len(ans), nrecs)
		if q0.SinceMS > 0 { // with SinceMS 0 nothing is left out
			leftOut = append(leftOut, s.leftOut(h, account, ans)...)
		}
		pc.msgs++
		pc.bytes += int64(len(ans))
		err = s.addSyncAnswer(p, ans)
		if err != nil {
			return asked, fmt.Errorf("%s adding %s's records from %s: %w", s.names[p], account, s.names[h], err)
		}
	}
	s.checkLeftOut(p, c, leftOut)
	return asked, nil
}

// answerSync is holder h's answer to the sync request req, timed on h's
// cost: the records since the request's After and SinceMS, and how many.
func (s *sim) answerSync(h int, req []byte) (ans []byte, nrecs int, err error) {
	err = s.cost[h].timed(func() error {
		var q ledger.SyncRequest
		if err := job.Decode(req, 1024, &q); err != nil {
			return err
		}
		gs, rs := s.book(h).RecordsSince(q.Account, q.After, q.SinceMS, ledger.MaxSyncRecords)
		nrecs = len(gs) + len(rs)
		ans = job.Encode(&ledger.SyncAnswer{Grants: gs, Receipts: rs})
		return nil
	})
	return ans, nrecs, err
}

// addSyncAnswer is p's adding of the records of a sync answer, timed on
// p's cost: each verified, one fsync when any was new.
func (s *sim) addSyncAnswer(p int, ans []byte) error {
	pc := &s.cost[p]
	return pc.timed(func() error {
		var a ledger.SyncAnswer
		if err := job.Decode(ans, ledger.MaxSyncAnswer, &a); err != nil {
			return err
		}
		b := s.book(p)
		added := 0
		for i := range a.Grants {
			ok, err := keepGrant(pc, b, &a.Grants[i])
			if err != nil {
				return err
			}
			if ok {
				added++
			}
		}
		for i := range a.Receipts {
			ok, err := keep(pc, b, &a.Receipts[i])
			if err != nil {
				return err
			}
			if ok {
				added++
			}
		}
		if added > 0 {
			pc.fsyncs++
		}
		return nil
	})
}

// leftOut returns what holder h left out of its answer ans about account
// (what Book.Records would have sent): checked, not charged to anyone.
func (s *sim) leftOut(h int, account string, ans []byte) []*job.Receipt {
	var a ledger.SyncAnswer
	if err := job.Decode(ans, ledger.MaxSyncAnswer, &a); err != nil {
		panic(fmt.Sprintf("ledgersim: an answer decoded once does not: %v", err)) // a bug
	}
	sent := map[[32]byte]bool{}
	for i := range a.Receipts {
		sent[a.Receipts[i].ID()] = true
	}
	_, all := s.book(h).Records(account, ledger.MaxSyncRecords)
	var out []*job.Receipt
	for i := range all {
		if !sent[all[i].ID()] {
			out = append(out, &all[i])
		}
	}
	s.checks.LeftOut += len(out)
	return out
}
