package client

import (
	"math/rand/v2"

	"github.com/libp2p/go-libp2p/core/peer"
)

// maxCandidates bounds the providers one auction resolves and waits for.
// In a mesh of thousands of providers a job would otherwise fetch as many
// capacity records from the DHT and dial as many peers before its request
// goes out (on 250 nodes in one process, 225 candidates, 10–25 s a job:
// docs/BENCHMARKS.md). Every provider still hears the gossiped request and
// may answer; the auction takes whatever bids come in its window.
const maxCandidates = 64

// sampleCandidates keeps at most max of found: those connected already
// first (no dial, their answers come soonest), then the others, each group
// in random order (so that no provider is left out of every auction), from
// rng (nil: the process's random source).
func sampleCandidates(found []peer.AddrInfo, max int, connected func(peer.ID) bool, rng *rand.Rand) []peer.AddrInfo {
	if len(found) <= max {
		return found
	}
	var near, far []peer.AddrInfo
	for _, ai := range found {
		if connected(ai.ID) {
			near = append(near, ai)
		} else {
			far = append(far, ai)
		}
	}
	shuffle := rand.Shuffle
	if rng != nil {
		shuffle = rng.Shuffle
	}
	shuffle(len(near), func(i, j int) { near[i], near[j] = near[j], near[i] })
	shuffle(len(far), func(i, j int) { far[i], far[j] = far[j], far[i] })
	return append(near, far...)[:max]
}
