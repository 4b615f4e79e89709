package client

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
)

// An auction among many providers resolves a bounded sample: the connected
// ones first, each provider in some samples and not all.
func TestSampleCandidates(t *testing.T) {
	var found []peer.AddrInfo
	for i := range 200 {
		found = append(found, peer.AddrInfo{ID: peer.ID(fmt.Sprintf("p%03d", i))})
	}
	connected := func(p peer.ID) bool { return p < "p010" } // 10 of them
	rng := rand.New(rand.NewPCG(1, 2))
	if got := sampleCandidates(found[:30], 64, connected, rng); len(got) != 30 {
		t.Fatalf("30 found, %d kept: a small mesh is not sampled", len(got))
	}
	seen := map[peer.ID]int{}
	const rounds = 100
	for range rounds {
		got := sampleCandidates(append([]peer.AddrInfo(nil), found...), 64, connected, rng)
		if len(got) != 64 {
			t.Fatalf("%d kept of 200, want 64", len(got))
		}
		for i, ai := range got[:10] {
			if !connected(ai.ID) {
				t.Fatalf("candidate %d is %s, not connected: the connected come first", i, ai.ID)
			}
		}
		for _, ai := range got {
			seen[ai.ID]++
		}
	}
	for _, ai := range found[10:] {
		if n := seen[ai.ID]; n == 0 || n == rounds {
			t.Fatalf("%s was in %d of %d samples: want some, not all", ai.ID, n, rounds)
		}
	}
}
