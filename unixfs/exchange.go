package unixfs

import (
	"context"
	"sync"

	"github.com/ipfs/boxo/bitswap"
	"github.com/ipfs/boxo/bitswap/network/bsnet"
	"github.com/ipfs/boxo/bitswap/server"
	"github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
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
	h      host.Host
	notify *network.NotifyBundle
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
	return &Bitswap{Bitswap: b, h: h, notify: replayPeers(h, b)}
}

// replayPeers tells b of the peers h is connected to already: Bitswap
// hears of peers as they connect (a node starts it when it first needs
// it). Its own tracking never saw these connect, so it would not see them
// go either: the returned notifiee tells b when one does, or b would keep
// a queue for it and dial it again for every want.
func replayPeers(h host.Host, b *bitswap.Bitswap) *network.NotifyBundle {
	var mu sync.Mutex
	replayed := map[peer.ID]bool{}
	gone := func(p peer.ID) {
		if h.Network().Connectedness(p) == network.Connected {
			return
		}
		mu.Lock()
		was := replayed[p]
		delete(replayed, p)
		mu.Unlock()
		if was {
			b.PeerDisconnected(p)
		}
	}
	nb := &network.NotifyBundle{DisconnectedF: func(_ network.Network, c network.Conn) { gone(c.RemotePeer()) }}
	h.Network().Notify(nb) // before the look: no disconnection is missed
	for _, c := range h.Network().Conns() {
		if c.Stat().Limited {
			continue // relayed: not for blocks
		}
		p := c.RemotePeer()
		mu.Lock()
		seen := replayed[p]
		replayed[p] = true
		mu.Unlock()
		if !seen {
			b.PeerConnected(p)
			gone(p) // gone meanwhile
		}
	}
	return nb
}

// Close stops Bitswap.
func (b *Bitswap) Close() error {
	b.h.Network().StopNotify(b.notify)
	return b.Bitswap.Close()
}

// outstandingPerPeer is how many bytes of blocks a node has on their way
// to one peer at most (Bitswap's default, 1 MiB, is four blocks: 40–70
// MB/s between two peers on one machine).
const outstandingPerPeer = 8 << 20
