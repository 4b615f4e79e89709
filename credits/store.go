package credits

import (
	"bufio"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/ledger"
	"github.com/computemesh/computemesh/mesh"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/time/rate"
)

// Where receipts go (see ledger/wire.go). A node keeps the records it is a
// party to and those of the accounts it holds (it is among the
// ledger.HolderCount DHT servers closest to the account's key); it does not
// see the rest of the network's receipts. A party sends each record it
// makes or signs to ledger.Recipients: the holders of the payer and of the
// payee, and, from the payee, the payer. A provider about to serve a
// client fetches the client's records from the client's holders (Judge,
// sync.go).

const (
	// StoreProtocol is the stream protocol a party sends its records to
	// their recipients on.
	StoreProtocol = "ledger-store"
	// holdersFor is how long an account's holders are remembered.
	holdersFor = 2 * time.Minute
	// StoreRate and StoreBurst bound the records one peer may store here;
	// SyncRate and SyncBurst the ledger syncs it may ask for.
	StoreRate  = 500
	StoreBurst = 2000
	SyncRate   = 20
	SyncBurst  = 100
	// pushQueue bounds the records waiting to be sent.
	pushQueue = 4096
)

// holderCache remembers each account's holders for a while.
type holderCache struct {
	mu sync.Mutex
	m  map[string]holderEntry
}

type holderEntry struct {
	ps []peer.ID
	at time.Time
}

// Holders returns account's holders (a DHT lookup, remembered for
// holdersFor; none when the lookup finds none). The slice is shared with
// the cache and other callers: it is clipped, so that appending to it
// copies.
func (b *Book) Holders(ctx context.Context, account string) []peer.ID {
	c := &b.holderCache
	c.mu.Lock()
	e, ok := c.m[account]
	c.mu.Unlock()
	if ok && time.Since(e.at) < holdersFor {
		return slices.Clip(e.ps)
	}
	ctx, cancel := context.WithTimeout(ctx, syncWait)
	defer cancel()
	ps, err := b.mesh.ClosestPeers(ctx, ledger.AccountKey(b.mesh.NetworkName(), account), ledger.HolderCount)
	if len(ps) == 0 {
		b.log.Debugw("ledger: no holders found", "account", account, "err", err)
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) > 16384 {
		c.m = map[string]holderEntry{}
	}
	c.m[account] = holderEntry{ps: ps, at: time.Now()}
	return slices.Clip(ps)
}

func peerStrings(ps []peer.ID) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

// SendRecords sends records to one recipient (a peer ID) on the
// ledger-store protocol and reports its refusals.
func (b *Book) SendRecords(ctx context.Context, to string, rs []job.Receipt) error {
	p, err := peer.Decode(to)
	if err != nil {
		return fmt.Errorf("recipient %q: %w", to, err)
	}
	ctx, cancel := context.WithTimeout(ctx, syncWait)
	defer cancel()
	s, err := b.mesh.Host().NewStream(ctx, p, b.mesh.Protocol(StoreProtocol))
	if err != nil {
		return fmt.Errorf("sending %d records to %s: %w", len(rs), p, err)
	}
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(syncWait))
	if err := mesh.WriteMsg(s, ledger.StoreRequest{V: job.Version, Receipts: rs}); err != nil {
		_ = s.Reset()
		return fmt.Errorf("sending %d records to %s: %w", len(rs), p, err)
	}
	var a ledger.StoreAnswer
	if err := mesh.ReadMsg(bufio.NewReader(s), 2048, &a); err != nil {
		_ = s.Reset()
		return fmt.Errorf("%s's answer to %d records: %w", p, len(rs), err)
	}
	if a.Refused > 0 {
		return fmt.Errorf("%s refused %d of %d records: %s", p, a.Refused, len(rs), a.Error)
	}
	return nil
}

// peerLimits bounds what each peer may do here (a token bucket each).
type peerLimits struct {
	rate  rate.Limit
	burst int

	mu sync.Mutex
	m  map[peer.ID]*rate.Limiter
}

func (l *peerLimits) allow(p peer.ID, n int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil || len(l.m) > 16384 {
		l.m = map[peer.ID]*rate.Limiter{}
	}
	lim := l.m[p]
	if lim == nil {
		lim = rate.NewLimiter(l.rate, l.burst)
		l.m[p] = lim
	}
	return lim.AllowN(time.Now(), n)
}

// refill sets how fast the buckets refill and empties the map (a peer's
// next request starts a full bucket at the new rate).
func (l *peerLimits) refill(r rate.Limit) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rate, l.m = r, nil
}

// SetStoreRate sets how fast each peer's bucket of records stored here
// refills (StoreRate a second unless set), every peer starting again on a
// full bucket of StoreBurst.
func (b *Book) SetStoreRate(r rate.Limit) { b.storeLimits.refill(r) }

// SetSyncRate sets how fast each peer's bucket of syncs answered here
// refills (SyncRate a second unless set), every peer starting again on a
// full bucket of SyncBurst.
func (b *Book) SetSyncRate(r rate.Limit) { b.syncLimits.refill(r) }

// serveStore keeps the records a party sends: each verified like any
// other, and only from one of its parties (a peer cannot fill this node's
// ledger with records of others), at most StoreRate a second per peer.
func (b *Book) serveStore(s network.Stream) {
	defer s.Close()
	from := s.Conn().RemotePeer()
	_ = s.SetDeadline(time.Now().Add(syncWait))
	var req ledger.StoreRequest
	if err := mesh.ReadMsg(bufio.NewReader(s), ledger.MaxStoreRequest, &req); err != nil {
		b.log.Debugw("ledger: reading records", "peer", from, "err", err)
		_ = s.Reset()
		return
	}
	if !b.storeLimits.allow(from, len(req.Receipts)) {
		a := ledger.StoreAnswer{Refused: len(req.Receipts), Error: fmt.Sprintf("over %d records a second from %s: not kept", StoreRate, from)}
		b.metrics.Rejected.Add(float64(len(req.Receipts)))
		_ = mesh.WriteMsg(s, a)
		return
	}
	a, err := b.store(from, req.Receipts)
	if err != nil {
		_ = s.Reset() // not acknowledged: the sender keeps them
		return
	}
	_ = mesh.WriteMsg(s, a)
}

// store keeps the records of sent that from is a party to, and answers
// how many it kept and why it refused the others; an error (logged) says
// none could be kept.
func (b *Book) store(from peer.ID, sent []job.Receipt) (ledger.StoreAnswer, error) {
	var a ledger.StoreAnswer
	refuse := func(why string) {
		if a.Refused++; a.Error == "" {
			a.Error = why
		}
	}
	var keep []job.Receipt
	sender, self := from.String(), b.self.String()
	for _, r := range sent {
		if r.Payer != sender && r.Payee != sender {
			refuse(fmt.Sprintf("receipt %d of %s: sent by %s, neither its payer nor its payee", r.Seq, r.Payer, from))
			continue
		}
		keep = append(keep, r)
	}
	_, frauds, refused, err := b.book.AddAll(nil, keep)
	if err != nil {
		b.log.Errorw("ledger: keeping records", "peer", from, "count", len(keep), "err", err)
		return a, fmt.Errorf("keeping %d records from %s: %w", len(keep), from, err)
	}
	for _, f := range frauds {
		b.reportFraud(f)
	}
	for _, err := range refused {
		refuse(err.Error())
	}
	a.Stored = len(keep) - len(refused)
	for _, r := range keep {
		if r.Payee == self {
			b.owed.settle(r.Job, r.Attempt) // paid after all (or claimed)
		}
	}
	if a.Refused > 0 {
		b.metrics.Rejected.Add(float64(a.Refused))
		b.log.Infow("ledger: records refused", "peer", from, "refused", a.Refused, "count", len(sent), "reason", a.Error)
	}
	return a, nil
}
