package credits

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/ledger"
	"github.com/computemesh/computemesh/mesh"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Ledger sync. A node does not see every receipt of the network (see
// store.go): one that must judge an account — a provider asked by a
// client to run a job, a client started on a data dir without its own
// history (an identity moved or restored from a backup) — fetches the
// records that account rests on from the account's holders (and the
// account itself), and verifies each one itself (AddGrant, AddReceipt:
// signatures, faucet, network). Those peers are trusted with nothing: a
// record that does not verify is refused; one they leave out makes the
// account look poorer, except the account's own spending, which its payees
// send to every holder (so a judge asks all of them).

const (
	// SyncProtocol is the stream protocol a node asks a peer for an
	// account's records on.
	SyncProtocol = "ledger-sync"
	syncWait     = 5 * time.Second
	// judgeWait bounds how long a judge waits for a client it knows
	// nothing of; a client it knows is refreshed in the background.
	judgeWait = 2 * time.Second
	// maxPayersFetched bounds the payers whose chains a judge fetches
	// to count a client's earnings.
	maxPayersFetched = 4
	// maxSyncPages bounds the answers one sync of an account takes from
	// one peer (ledger.MaxSyncRecords each).
	maxSyncPages = 16
	// learnRate bounds the unknown authors judged in the background a
	// second.
	learnRate = 10
)

// syncState remembers when each account was last synced (tried, and
// answered), and which judges are fetching now.
type syncState struct {
	mu       sync.Mutex
	last     map[string]time.Time
	answered map[string]time.Time
	fetching map[string]chan struct{} // closed when that account's fetch ends
}

// synced records that account's records were fetched as of at.
func (s *syncState) synced(account string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.answered == nil || len(s.answered) > 16384 {
		s.answered = map[string]time.Time{}
	}
	s.answered[account] = at
}

// since returns the SinceMS of a sync of account: its last answered sync
// less ledger.SyncMargin (0: never synced, send everything).
func (s *syncState) since(account string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.answered[account]
	if !ok {
		return 0
	}
	return at.Add(-ledger.SyncMargin).UnixMilli()
}

// due reports whether account may be synced now, and marks it.
func (s *syncState) due(account string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last == nil || len(s.last) > 16384 {
		s.last = map[string]time.Time{}
	}
	if now.Sub(s.last[account]) < ledger.SyncEvery {
		return false
	}
	s.last[account] = now
	return true
}

// begin starts a judge's fetch of account when one is due (start, with
// the channel that end closes); when none is due it returns the channel of
// the fetch in flight, if any (nil: none).
func (s *syncState) begin(account string, now time.Time) (done chan struct{}, start bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last == nil || len(s.last) > 16384 {
		s.last = map[string]time.Time{}
	}
	if now.Sub(s.last[account]) < ledger.SyncEvery {
		return s.fetching[account], false
	}
	s.last[account] = now
	if s.fetching == nil {
		s.fetching = map[string]chan struct{}{}
	}
	done = make(chan struct{})
	s.fetching[account] = done
	return done, true
}

// inFlight reports whether a judge's fetch of account is in flight.
func (s *syncState) inFlight(account string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fetching[account] != nil
}

// end marks the fetch begin started as ended.
func (s *syncState) end(account string, done chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fetching[account] == done {
		delete(s.fetching, account)
	}
	close(done)
}

// mark records that account was synced (or judged) at at.
func (s *syncState) mark(account string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last == nil || len(s.last) > 16384 {
		s.last = map[string]time.Time{}
	}
	s.last[account] = at
}

// Judged records that account was judged at at: Judge leaves it as it is
// until ledger.SyncEvery after at.
func (b *Book) Judged(account string, at time.Time) { b.sync.mark(account, at) }

// serveSync answers a peer's request for an account's records.
func (b *Book) serveSync(s network.Stream) {
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(syncWait))
	var req ledger.SyncRequest
	if err := mesh.ReadMsg(bufio.NewReader(s), 1024, &req); err != nil {
		_ = s.Reset()
		return
	}
	if !b.syncLimits.allow(s.Conn().RemotePeer(), 1) {
		b.log.Debugw("ledger sync: over its rate: not answered", "peer", s.Conn().RemotePeer(), "rate", SyncRate)
		_ = s.Reset()
		return
	}
	gs, rs, err := b.book.RecordsSince(req.Account, req.After, req.SinceMS, ledger.MaxSyncRecords)
	if err != nil { // a damaged log: no answer rather than a wrong one
		b.log.Errorw("ledger sync: answering", "peer", s.Conn().RemotePeer(), "account", req.Account, "err", err)
		_ = s.Reset()
		return
	}
	_ = mesh.WriteMsg(s, ledger.SyncAnswer{Grants: gs, Receipts: rs})
}

// SyncAccount fetches what from holds of account and keeps what verifies
// (each record checked here: holders are trusted with nothing). An answer
// full to ledger.MaxSyncRecords is followed by pages of the account's own
// chain past the highest number it held (up to maxSyncPages), so that a
// long chain is never judged on its first part only, which would show the
// account richer than it is. It returns how many records were new.
func (b *Book) SyncAccount(ctx context.Context, from peer.ID, account string) (int, error) {
	started := b.now()
	req := ledger.SyncRequest{V: job.Version, Account: account, After: b.book.CountedChain(account), SinceMS: b.sync.since(account)}
	total := 0
	for page := 0; ; page++ {
		a, err := b.syncPage(ctx, from, req)
		if err != nil {
			return total, err
		}
		added, frauds, refused, err := b.book.AddAll(a.Grants, a.Receipts)
		if err != nil {
			return total, fmt.Errorf("keeping the ledger of %s from %s: %w", account, from, err)
		}
		total += added
		for _, f := range frauds {
			b.reportFraud(f)
		}
		if len(refused) > 0 {
			b.metrics.Rejected.Add(float64(len(refused)))
			b.log.Infow("ledger sync: records that do not verify refused", "account", account, "peer", from, "count", len(refused), "err", refused[0])
		}
		last := req.After
		for _, r := range a.Receipts {
			if r.Payer == account {
				last = max(last, r.Seq)
			}
		}
		if len(a.Grants)+len(a.Receipts) < ledger.MaxSyncRecords || last == req.After || page+1 >= maxSyncPages {
			break
		}
		// The next page: the chain past what this one held, nothing by time.
		req.After, req.SinceMS = last, math.MaxInt64
	}
	b.sync.synced(account, started)
	return total, nil
}

// syncPage asks from for one answer.
func (b *Book) syncPage(ctx context.Context, from peer.ID, req ledger.SyncRequest) (*ledger.SyncAnswer, error) {
	ctx, cancel := context.WithTimeout(ctx, syncWait)
	defer cancel()
	s, err := b.mesh.Host().NewStream(ctx, from, b.mesh.Protocol(SyncProtocol))
	if err != nil {
		return nil, fmt.Errorf("asking %s for the ledger of %s: %w", from, req.Account, err)
	}
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(syncWait))
	if err := mesh.WriteMsg(s, req); err != nil {
		_ = s.Reset()
		return nil, fmt.Errorf("asking %s for the ledger of %s: %w", from, req.Account, err)
	}
	var a ledger.SyncAnswer
	if err := mesh.ReadMsg(bufio.NewReader(s), ledger.MaxSyncAnswer, &a); err != nil {
		_ = s.Reset()
		return nil, fmt.Errorf("the ledger of %s from %s: %w", req.Account, from, err)
	}
	return &a, nil
}

// syncFrom fetches account from each of peers at once (this node left
// out) and returns how many answered and how many records were new.
func (b *Book) syncFrom(ctx context.Context, peers []peer.ID, account string) (answered, added int, errs []error) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, p := range peers {
		if p == b.self {
			continue
		}
		wg.Go(func() {
			k, err := b.SyncAccount(ctx, p, account)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			answered++
			added += k
		})
	}
	wg.Wait()
	return answered, added, errs
}

// Judge makes this provider's view of a client fresh enough to judge it
// (at most once per ledger.SyncEvery): it fetches the client's records from
// the client's holders and the client itself, then the chains of the
// payers whose receipts to the client do not count here yet (up to
// maxPayersFetched). The fetch runs in the background (up to 2×syncWait).
// A client this node holds nothing of is waited for, up to judgeWait
// within ctx, also when another judge of it is fetching already (one
// started by CanPay for a relayed request of the same job); one it knows
// is judged on what this node holds meanwhile. Judge reports whether the
// view is settled: false while a fetch of a client it knew nothing of is
// still in flight (its balance here may be short of the truth: say so,
// never that it cannot pay).
func (b *Book) Judge(ctx context.Context, client peer.ID) (settled bool) {
	id := client.String()
	if b.faucet == "" {
		return true
	}
	grants, receipts := b.book.Counts(id)
	known := grants > 0 || receipts > 0
	done, start := b.sync.begin(id, b.now())
	if start {
		b.own.Go(func() {
			ctx, cancel := context.WithTimeout(b.ctx, 2*syncWait)
			defer cancel()
			defer b.sync.end(id, done)
			b.fetchAccount(ctx, client)
		})
	}
	if known || done == nil {
		return true
	}
	t := time.NewTimer(judgeWait)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

// fetchAccount fetches a client's records from its holders and itself,
// then the chains of its payers that do not count here yet.
func (b *Book) fetchAccount(ctx context.Context, client peer.ID) {
	id := client.String()
	_, _, errs := b.syncFrom(ctx, append(b.Holders(ctx, id), client), id)
	for _, err := range errs {
		b.log.Debugw("ledger sync", "account", id, "err", err)
	}
	for _, payer := range b.book.PendingPayers(id, maxPayersFetched) {
		if p, err := peer.Decode(payer); err == nil && b.sync.due(payer, b.now()) {
			b.syncFrom(ctx, append(b.Holders(ctx, payer), p), payer)
		}
	}
}

// judgeLater judges an author this node cannot tell can pay, in the
// background (at most learnRate a second: fresh keys are free to make),
// so that its next requests are judged on its records: a node that joined
// after a client's grant would otherwise ignore the client's relayed
// requests for good (see CanPay).
func (b *Book) judgeLater(author peer.ID) {
	if !b.learnLimit.Allow() {
		return
	}
	b.own.Go(func() { b.Judge(b.ctx, author) })
}

// learnOwnHistory makes sure, before this node takes its first slot since
// it started, that it knows the records its identity signed before: a key
// moved to a new data dir, or restored from a backup older than its last
// receipt, would otherwise sign a number again. It asks its account's
// holders and the provider it is about to pay (or, with no holders found,
// up to two other connected peers); one answer (even "nothing") is enough.
// If none answers and its own ledger holds none of its receipts, it
// refuses to pay, saying why, unless AssumeComplete.
func (b *Book) learnOwnHistory(ctx context.Context, provider peer.ID) error {
	if b.ownSynced.Load() {
		return nil
	}
	self := b.self.String()
	asked := append(b.Holders(ctx, self), provider)
	if len(asked) == 1 {
		for _, p := range b.mesh.Host().Network().Peers() {
			if len(asked) == 3 {
				break
			}
			if p != provider {
				asked = append(asked, p)
			}
		}
	}
	answered, _, errs := b.syncFrom(ctx, asked, self)
	if answered > 0 {
		b.ownSynced.Store(true)
		return nil
	}
	if b.assume || b.book.NextSeq(self) > 1 {
		b.ownSynced.Store(true)
		return nil
	}
	return fmt.Errorf("not signing a receipt: this node's ledger holds none of its own, and no peer could say which numbers it signed before (%w); if this identity never paid before, or its ledger was moved with it, start with --assume-ledger-complete", errors.Join(errs...))
}
