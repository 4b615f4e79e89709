package node

import (
	"github.com/libp2p/go-libp2p/core/network"
)

// Every goroutine the node starts belongs to it (n.own): Close waits for
// them all, and once Close has begun nothing new starts.

// spawn runs f on a goroutine the node owns; it reports false (and runs
// nothing) once the node is closing.
func (n *Node) spawn(f func()) bool { return n.own.Go(f) }

// serve handles the node's protocol proto with h, each stream's handler
// owned by the node: Close waits for it, and a stream that arrives once the
// node is closing is reset.
func (n *Node) serve(proto string, h network.StreamHandler) {
	n.mesh.Host().SetStreamHandler(n.mesh.Protocol(proto), n.own.Handler(h))
}
