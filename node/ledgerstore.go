package node

import (
	"bufio"
	"context"
	"fmt"
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
// client fetches the client's records from the client's holders (judge,
// ledgersync.go).

const (
	storeProto = "ledger-store"
	// holdersFor is how long an account's holders are remembered.
	holdersFor = 2 * time.Minute
	// storeRate and storeBurst bound the records one peer may store here;
	// syncRate and syncBurst the ledger syncs it may ask for.
	storeRate  = 500
	storeBurst = 2000
	syncRate   = 20
	syncBurst  = 100
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

// holders returns account's holders (a DHT lookup, remembered for
// holdersFor; none when the lookup finds none).
func (n *Node) holders(ctx context.Context, account string) []peer.ID {
	c := &n.holderCache
	c.mu.Lock()
	e, ok := c.m[account]
	c.mu.Unlock()
	if ok && time.Since(e.at) < holdersFor {
		return e.ps
	}
	ctx, cancel := context.WithTimeout(ctx, syncWait)
	defer cancel()
	ps, err := n.mesh.ClosestPeers(ctx, ledger.AccountKey(n.mesh.NetworkName(), account), ledger.HolderCount)
	if len(ps) == 0 {
		log.Debugf("ledger: no holders found for %s: %v", account, err)
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) > 16384 {
		c.m = map[string]holderEntry{}
	}
	c.m[account] = holderEntry{ps: ps, at: time.Now()}
	return ps
}

// pushRecord queues a record this node is a party to for its recipients
// (it is in this node's ledger already).
func (n *Node) pushRecord(r *job.Receipt) {
	select {
	case n.pushes <- r:
	default:
		n.metrics.ledgerRejected.Inc()
		log.Warnf("ledger: the send queue is full: receipt %d of %s reaches its holders only when they sync", r.Seq, r.Payer)
	}
}

// pushLoop sends queued records in batches, one request per recipient.
func (n *Node) pushLoop() {
	self := n.ID().String()
	for {
		var batch []*job.Receipt
		select {
		case <-n.ctx.Done():
			return
		case r := <-n.pushes:
			batch = append(batch, r)
		}
		linger := time.NewTimer(20 * time.Millisecond)
	fill:
		for len(batch) < ledger.MaxStoreRecords {
			select {
			case r := <-n.pushes:
				batch = append(batch, r)
			case <-linger.C:
				break fill
			case <-n.ctx.Done():
				linger.Stop()
				return
			}
		}
		linger.Stop()
		to := map[string][]job.Receipt{}
		for _, r := range batch {
			for _, p := range ledger.Recipients(r, self, func(account string) []string {
				return peerStrings(n.holders(n.ctx, account))
			}) {
				to[p] = append(to[p], *r)
			}
		}
		var wg sync.WaitGroup
		for p, rs := range to {
			wg.Go(func() {
				if err := n.sendRecords(p, rs); err != nil {
					log.Debugf("ledger: %v", err)
				}
			})
		}
		wg.Wait()
	}
}

func peerStrings(ps []peer.ID) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

// sendRecords sends records to one recipient.
func (n *Node) sendRecords(to string, rs []job.Receipt) error {
	p, err := peer.Decode(to)
	if err != nil {
		return fmt.Errorf("recipient %q: %w", to, err)
	}
	ctx, cancel := context.WithTimeout(n.ctx, syncWait)
	defer cancel()
	s, err := n.mesh.Host().NewStream(ctx, p, n.mesh.Protocol(storeProto))
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

// serveLedgerStore keeps the records a party sends: each verified like any
// other, and only from one of its parties (a peer cannot fill this node's
// ledger with records of others), at most storeRate a second per peer.
func (n *Node) serveLedgerStore(s network.Stream) {
	defer s.Close()
	from := s.Conn().RemotePeer()
	_ = s.SetDeadline(time.Now().Add(syncWait))
	var req ledger.StoreRequest
	if err := mesh.ReadMsg(bufio.NewReader(s), ledger.MaxStoreRequest, &req); err != nil {
		log.Debugf("ledger: records from %s: %v", from, err)
		_ = s.Reset()
		return
	}
	var a ledger.StoreAnswer
	refuse := func(why string) {
		if a.Refused++; a.Error == "" {
			a.Error = why
		}
	}
	if !n.storeLimits.allow(from, len(req.Receipts)) {
		a.Refused, a.Error = len(req.Receipts), fmt.Sprintf("over %d records a second from %s: not kept", storeRate, from)
		n.metrics.ledgerRejected.Add(float64(len(req.Receipts)))
		_ = mesh.WriteMsg(s, a)
		return
	}
	self := n.ID().String()
	var keep []job.Receipt
	for _, r := range req.Receipts {
		if r.Payer != from.String() && r.Payee != from.String() {
			refuse(fmt.Sprintf("receipt %d of %s: sent by %s, neither its payer nor its payee", r.Seq, r.Payer, from))
			continue
		}
		keep = append(keep, r)
	}
	_, frauds, refused, err := n.book.AddAll(nil, keep)
	if err != nil {
		log.Errorf("ledger: keeping %d records from %s: %v", len(keep), from, err)
		_ = s.Reset() // not acknowledged: the sender keeps them
		return
	}
	for _, f := range frauds {
		n.reportFraud(f)
	}
	for _, err := range refused {
		refuse(err.Error())
	}
	a.Stored = len(keep) - len(refused)
	for _, r := range keep {
		if r.Payee == self {
			n.owed.settle(r.Job, r.Attempt) // paid after all (or claimed)
		}
	}
	if a.Refused > 0 {
		n.metrics.ledgerRejected.Add(float64(a.Refused))
		log.Infof("ledger: refused %d of %d records from %s: %s", a.Refused, len(req.Receipts), from, a.Error)
	}
	_ = mesh.WriteMsg(s, a)
}
