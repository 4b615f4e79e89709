package node

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/mesh"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Cache lifetimes of what a client learns through the DHT.
const (
	lookupTTL = 10 * time.Second // providers of a capability key
	recordTTL = 30 * time.Second // a provider's verified capacity record (at most until it expires)
)

type candidates struct {
	mu      sync.Mutex
	lookups map[string]lookup
	records map[peer.ID]recordEntry
	// own is this node's SHA-256 score, the yardstick of challenges.
	own struct {
		once  sync.Once
		score float64
	}
}

type lookup struct {
	peers []peer.AddrInfo
	at    time.Time
}

type recordEntry struct {
	rec *job.Capacity
	err string
	at  time.Time
}

// candidates returns the providers this client expects to answer a job
// with need: those the DHT lists under the most specific capability key for
// it, plus those it hears of on the jobs topic (only providers subscribe
// there), that it can reach. Their capacity records, fetched and verified,
// come along for ranking and for explaining a mismatch. Look-ups and records
// are cached (lookupTTL, recordTTL).
func (n *Node) candidates(ctx context.Context, need job.Need) (expected []peer.ID, records map[peer.ID]*job.Capacity) {
	key := capabilityFor(need)
	found := n.lookup(ctx, key)
	class := mesh.ClassCPU
	if need.GPUs > 0 || need.GPUModel != "" || need.MinVRAM > 0 {
		class = mesh.ClassGPU
	}
	for _, p := range n.mesh.ClassPeers(class) {
		if !slices.ContainsFunc(found, func(ai peer.AddrInfo) bool { return ai.ID == p }) {
			found = append(found, peer.AddrInfo{ID: p})
		}
	}
	records = map[peer.ID]*job.Capacity{}
	var (
		wg sync.WaitGroup
		mu sync.Mutex
	)
	for _, ai := range found {
		if ai.ID == n.ID() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := n.capacityOf(ctx, ai.ID)
			if n.mesh.Host().Network().Connectedness(ai.ID) != network.Connected {
				cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
				err := n.mesh.Connect(cctx, ai)
				cancel()
				if err != nil {
					log.Debugf("candidate %s unreachable: %v", ai.ID, err)
					return
				}
				n.spawn(func() { n.pingOnce(ai.ID) })
			}
			mu.Lock()
			expected = append(expected, ai.ID)
			if rec != nil {
				records[ai.ID] = rec
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	slices.Sort(expected)
	n.waitSubscribed(ctx, expected, 2*time.Second)
	return expected, records
}

// lookup returns the providers of a capability key, from the cache when it
// is fresh. An empty result is not cached: the next job looks again.
func (n *Node) lookup(ctx context.Context, key string) []peer.AddrInfo {
	n.cands.mu.Lock()
	l, ok := n.cands.lookups[key]
	n.cands.mu.Unlock()
	if ok && time.Since(l.at) < lookupTTL {
		return slices.Clone(l.peers)
	}
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	found := n.mesh.FindProviders(lctx, key)
	cancel()
	if len(found) > 0 {
		n.cands.mu.Lock()
		if n.cands.lookups == nil {
			n.cands.lookups = map[string]lookup{}
		}
		n.cands.lookups[key] = lookup{peers: found, at: time.Now()}
		n.cands.mu.Unlock()
	}
	return found
}

// capacityOf returns a provider's verified capacity record, from the cache while
// it is fresh and unexpired; nil when it has none that verifies.
func (n *Node) capacityOf(ctx context.Context, p peer.ID) *job.Capacity {
	now := time.Now()
	n.cands.mu.Lock()
	e, ok := n.cands.records[p]
	n.cands.mu.Unlock()
	if ok && now.Sub(e.at) < recordTTL && (e.rec == nil || now.UnixMilli() < e.rec.ExpiresMS) {
		return e.rec
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	rec, err := n.mesh.GetCapacity(rctx, p)
	cancel()
	e = recordEntry{rec: rec, at: now}
	if err != nil {
		e.err = err.Error()
		log.Debugf("capacity record of %s: %v", p, err)
	}
	n.cands.mu.Lock()
	if n.cands.records == nil {
		n.cands.records = map[peer.ID]recordEntry{}
	}
	// Bound the cache: forget the oldest half when it grows large.
	if len(n.cands.records) > 4096 {
		for k, v := range n.cands.records {
			if now.Sub(v.at) > recordTTL/2 {
				delete(n.cands.records, k)
			}
		}
	}
	n.cands.records[p] = e
	n.cands.mu.Unlock()
	return rec
}

// onCapacity keeps the record cache current with gossiped records (already
// verified by the topic's validator): a newer sequence number replaces.
func (n *Node) onCapacity(c *job.Capacity) {
	p, err := peer.Decode(c.Peer)
	if err != nil {
		return
	}
	n.cands.mu.Lock()
	defer n.cands.mu.Unlock()
	if n.cands.records == nil {
		n.cands.records = map[peer.ID]recordEntry{}
	}
	if e, ok := n.cands.records[p]; ok && e.rec != nil && e.rec.Seq >= c.Seq {
		return
	}
	if _, ok := n.cands.records[p]; !ok && len(n.cands.records) > 4096 {
		return // the cache is full: records the client looks up take precedence
	}
	n.cands.records[p] = recordEntry{rec: c, at: time.Now()}
}

func (n *Node) pingOnce(p peer.ID) {
	if n.mesh.RTT(p) > 0 {
		return
	}
	ctx, cancel := context.WithTimeout(n.ctx, 2*time.Second)
	defer cancel()
	_, _ = n.mesh.Ping(ctx, p)
}

// waitSubscribed waits, at most max, until every peer in ps is known to be
// on the jobs topic, so that the request reaches them directly. (They learn
// of this node's bids subscription on the same stream before the request.)
func (n *Node) waitSubscribed(ctx context.Context, ps []peer.ID, max time.Duration) {
	deadline := time.Now().Add(max)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		jobs, _ := n.mesh.TopicPeers()
		all := true
		for _, p := range ps {
			// A peer reached only through a relay never joins this node's
			// topics (relayed connections carry no gossip): the request
			// reaches it through the relay nodes' gossip.
			if !slices.Contains(jobs, p) && n.mesh.ConnsTo(p).Direct > 0 {
				all = false
				break
			}
		}
		if all {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// rttOf returns the measured RTT to a provider given by its ID string.
func (n *Node) rttOf(provider string) time.Duration {
	p, err := peer.Decode(provider)
	if err != nil {
		return 0
	}
	return n.mesh.RTT(p)
}
