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
// first is decoded, validated and added to b.
func (s *sim) receiveGossip(c *cost, b *ledger.Book, msg []byte, d int) error {
	c.msgs += int64(d)
	c.bytes += int64(d * len(msg))
	return c.timed(func() error {
		var m gossipMsg
		if err := job.Decode(msg, maxGossipMsg, &m); err != nil {
			return err
		}
		var err error
		if m.Receipt != nil {
			_, err = keep(c, b, m.Receipt)
		} else if m.Grant != nil {
			_, err = keepGrant(c, b, m.Grant)
		}
		return err
	})
}

// ---- the new design: receipts to their accounts' holders ----

// push is a party's sending of r to ledger.Recipients: one StoreRequest
// per recipient (one receipt each: the node batches up to
// ledger.MaxStoreRecords within 20 ms, which at these rates rarely joins
// two), answered by a StoreAnswer.
func (s *sim) push(r *job.Receipt, from int) error {
	fc := &s.cost[from]
	var req []byte
	_ = fc.timed(func() error {
		req = job.Encode(&ledger.StoreRequest{V: job.Version, Receipts: []job.Receipt{*r}})
		return nil
	})
	s.sized("store request", len(req))
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
			for i := range q.Receipts {
				if q.Receipts[i].Payer != self && q.Receipts[i].Payee != self {
					a.Refused++
					continue
				}
				if _, err := keep(nc, s.book(n), &q.Receipts[i]); err != nil {
					return err
				}
				a.Stored++
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
// amount: at most once per ledger.SyncEvery it fetches c's records from
// c's holders; then it serves c if the credits c has free cover amount.
func (s *sim) judge(p, c int, amount job.Credits, t float64) (bool, error) {
	if err := s.ensureGrant(p, c); err != nil {
		return false, err
	}
	pc := &s.cost[p]
	k := [2]int{p, c}
	if last, ok := s.lastSync[k]; !ok || t-last >= ledger.SyncEvery.Seconds() {
		s.lastSync[k] = t
		if err := s.sync(p, c); err != nil {
			return false, err
		}
		s.checkJudge(p, c)
	}
	var avail job.Credits
	_ = pc.timed(func() error { avail = s.book(p).Available(s.names[c]); return nil })
	return avail >= amount, nil
}

// sync is p's fetching of c's records: a SyncRequest to each of c's
// holders (p left out), each answered with the holder's Book.Records;
// p adds every record, verifying it (a record it has is a cheap
// duplicate).
func (s *sim) sync(p, c int) error {
	account := s.names[c]
	pc := &s.cost[p]
	s.checks.Syncs++
	var req []byte
	_ = pc.timed(func() error {
		req = job.Encode(&ledger.SyncRequest{V: job.Version, Account: account})
		return nil
	})
	for _, h := range s.holderNodes(account) {
		if h == p {
			continue
		}
		s.sized("sync request", len(req))
		hc := &s.cost[h]
		hc.msgs++
		hc.bytes += int64(len(req))
		var ans []byte
		err := hc.timed(func() error {
			var q ledger.SyncRequest
			if err := job.Decode(req, 1024, &q); err != nil {
				return err
			}
			gs, rs := s.book(h).Records(q.Account, ledger.MaxSyncRecords)
			ans = job.Encode(&ledger.SyncAnswer{Grants: gs, Receipts: rs})
			return nil
		})
		if err != nil {
			return fmt.Errorf("holder %s answering %s: %w", s.names[h], s.names[p], err)
		}
		s.sized("sync answer", len(ans))
		pc.msgs++
		pc.bytes += int64(len(ans))
		err = pc.timed(func() error {
			var a ledger.SyncAnswer
			if err := job.Decode(ans, ledger.MaxSyncAnswer, &a); err != nil {
				return err
			}
			b := s.book(p)
			for i := range a.Grants {
				if _, err := keepGrant(pc, b, &a.Grants[i]); err != nil {
					return err
				}
			}
			for i := range a.Receipts {
				if _, err := keep(pc, b, &a.Receipts[i]); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("%s adding %s's records from %s: %w", s.names[p], account, s.names[h], err)
		}
	}
	return nil
}
