package unixfs

import (
	"context"

	"github.com/ipfs/boxo/bitswap"
	"github.com/ipfs/boxo/bitswap/network/bsnet"
	"github.com/ipfs/boxo/bitswap/server"
	"github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/routing"
)

// Bitswap is the IPFS block exchange on a libp2p host: it fetches the
// blocks a DAG lacks from the peers it is connected to (and, given a
// content finder, from the providers it finds), and serves the
// blockstore's blocks to peers that ask — only those Serve allows.
// Close stops it.
type Bitswap struct {
	*bitswap.Bitswap
}

// Serve says whether a peer may have a block: a node's store holds
// clients' inputs and outputs, which are theirs, not everyone's.
type Serve func(p peer.ID, c cid.Cid) bool

// NewBitswap starts Bitswap on h over bs, with the peers h is connected
// to already. find may be nil (connected peers only); serve nil serves
// nothing.
func NewBitswap(ctx context.Context, h host.Host, bs blockstore.Blockstore, find routing.ContentDiscovery, serve Serve) *Bitswap {
	if serve == nil {
		serve = func(peer.ID, cid.Cid) bool { return false }
	}
	b := bitswap.New(ctx, bsnet.NewFromIpfsHost(h), find, bs,
		bitswap.WithPeerBlockRequestFilter(func(p peer.ID, c cid.Cid) bool { return serve(p, c) }),
		bitswap.WithServerOption(server.MaxOutstandingBytesPerPeer(outstandingPerPeer)))
	// Bitswap learns of peers as they connect; those connected already
	// (a node starts it when it first needs it) are told now.
	seen := map[peer.ID]bool{}
	for _, c := range h.Network().Conns() {
		if p := c.RemotePeer(); !seen[p] && !c.Stat().Limited {
			seen[p] = true
			b.PeerConnected(p)
		}
	}
	return &Bitswap{b}
}

// outstandingPerPeer is how many bytes of blocks a node has on their way
// to one peer at most (Bitswap's default, 1 MiB, is four blocks: 40–70
// MB/s between two peers on one machine).
const outstandingPerPeer = 8 << 20
