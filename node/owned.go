package node

import (
	"github.com/libp2p/go-libp2p/core/network"
)

// Every goroutine the node starts belongs to it: Close waits for them all
// (n.wg). A goroutine may be started from a stream handler or a gossip
// callback at any time, even while Close runs; enter refuses once Close
// has begun, so that no goroutine starts after Close's wait (and the wait
// group is never added to concurrently with a wait at zero).

// enter counts one more goroutine of the node, unless it is closing.
func (n *Node) enter() bool {
	n.ownMu.Lock()
	defer n.ownMu.Unlock()
	if n.closing {
		return false
	}
	n.wg.Add(1)
	return true
}

// spawn runs f on a goroutine the node owns; it reports false (and runs
// nothing) once the node is closing.
func (n *Node) spawn(f func()) bool {
	if !n.enter() {
		return false
	}
	go func() {
		defer n.wg.Done()
		f()
	}()
	return true
}

// serve handles the node's protocol proto with h, each stream's handler
// owned by the node: Close waits for it, and a stream that arrives once the
// node is closing is reset.
func (n *Node) serve(proto string, h network.StreamHandler) {
	n.mesh.Host().SetStreamHandler(n.mesh.Protocol(proto), func(s network.Stream) {
		if !n.enter() {
			_ = s.Reset()
			return
		}
		defer n.wg.Done()
		h(s)
	})
}

// beginClose marks the node closing: no goroutine or handler starts after.
func (n *Node) beginClose() {
	n.ownMu.Lock()
	n.closing = true
	n.ownMu.Unlock()
}
