package node

import (
	"github.com/computemesh/computemesh/hwprobe"
)

// ownHashScore is this node's own SHA-256 MB/s per core: a provider's
// measured score, else one measured once (about 0.2 s) on first use.
func (n *Node) ownHashScore() float64 {
	own := &n.ownScore
	own.once.Do(func() {
		if s := n.providerHashScore(); s > 0 {
			own.score = s
			return
		}
		rep := hwprobe.Probe(n.ctx)
		if rep.Benchmark != nil {
			own.score = rep.Benchmark.HashMBPerSecPerCore
		}
	})
	return max(own.score, 1)
}
