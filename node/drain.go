package node

import (
	"time"
)

// Drain stops the provider from taking new jobs (it declines them as
// busy) and returns a channel closed once the jobs it runs have finished.
// Draining a client, or draining twice, is harmless.
func (n *Node) Drain() <-chan struct{} {
	n.drainOnce.Do(func() {
		n.draining.Store(true)
		log.Infof("draining: taking no new jobs, finishing %d running", n.running())
		wait := func() {
			defer close(n.drained)
			t := time.NewTicker(100 * time.Millisecond)
			defer t.Stop()
			for n.running() > 0 {
				select {
				case <-n.ctx.Done():
					return
				case <-t.C:
				}
			}
		}
		if !n.spawn(wait) {
			close(n.drained) // closing: nothing runs any more
		}
	})
	return n.drained
}

// Drained is closed once a drain has finished (never, without Drain).
func (n *Node) Drained() <-chan struct{} { return n.drained }

func (n *Node) running() int {
	if n.reserved == nil {
		return 0
	}
	return n.reserved.Running()
}
