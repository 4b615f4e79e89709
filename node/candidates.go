package node

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/libp2p/go-libp2p/core/peer"
)

// candidateTTL is how long a client trusts its last DHT look-up of
// providers before it asks again.
const candidateTTL = 10 * time.Second

type candidates struct {
	mu    sync.Mutex
	peers []peer.ID
	at    time.Time
}

// candidates returns the providers this client expects to answer: those the
// DHT lists for the WASM executor and that it could reach. The list is
// cached for candidateTTL.
func (n *Node) candidates(ctx context.Context) []peer.ID {
	n.cands.mu.Lock()
	defer n.cands.mu.Unlock()
	if !n.cands.at.IsZero() && time.Since(n.cands.at) < candidateTTL {
		return n.cands.peers
	}
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	found := n.mesh.FindProviders(lctx, "executor="+job.ExecutorWASM)
	cancel()
	// Providers subscribe to the jobs topic (clients do not): those this node
	// hears of there are candidates too, even before the DHT lists them.
	jobsPeers, _ := n.mesh.TopicPeers()
	for _, p := range jobsPeers {
		if !slices.ContainsFunc(found, func(ai peer.AddrInfo) bool { return ai.ID == p }) {
			found = append(found, peer.AddrInfo{ID: p})
		}
	}
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		reachable []peer.ID
	)
	for _, ai := range found {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			if err := n.mesh.Connect(cctx, ai); err != nil {
				log.Debugf("candidate %s unreachable: %v", ai.ID, err)
				return
			}
			mu.Lock()
			reachable = append(reachable, ai.ID)
			mu.Unlock()
		}()
	}
	wg.Wait()
	slices.SortFunc(reachable, func(a, b peer.ID) int {
		if a < b {
			return -1
		} else if a > b {
			return 1
		}
		return 0
	})
	n.waitSubscribed(ctx, reachable, 2*time.Second)
	// An empty list is not cached: the next job looks again.
	n.cands.peers, n.cands.at = reachable, time.Time{}
	if len(reachable) > 0 {
		n.cands.at = time.Now()
	}
	for _, p := range reachable {
		if n.mesh.RTT(p) == 0 {
			go func() {
				pctx, cancel := context.WithTimeout(n.ctx, 2*time.Second)
				defer cancel()
				_, _ = n.mesh.Ping(pctx, p)
			}()
		}
	}
	return reachable
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
			if !slices.Contains(jobs, p) {
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
