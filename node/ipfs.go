package node

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/unixfs"
	"github.com/ipfs/boxo/exchange"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// ipfs is the node's side of IPFS: Bitswap on its host, started at the
// first input fetched from IPFS (a node that never fetches one keeps no
// Bitswap state for its hundreds of peers), and the IPFS peers it keeps
// connections to (Config.IPFSPeers).
type ipfs struct {
	once sync.Once
	bs   *unixfs.Bitswap
	err  error
}

// bitswap starts (once) and returns the node's Bitswap: it finds blocks
// among the connected peers (IPFS peers included) and, past them, through
// the mesh's DHT (the providers of a CID that mesh nodes announced); it
// serves a peer only the blocks granted to it.
func (n *Node) bitswap() (exchange.Interface, error) {
	n.ipfs.once.Do(func() {
		if n.ctx.Err() != nil {
			n.ipfs.err = fmt.Errorf("the node is closing")
			return
		}
		n.ipfs.bs = unixfs.NewBitswap(n.ctx, n.mesh.Host(), unixfs.StoreBlocks(n.store), n.mesh.DHT(),
			func(p peer.ID, c cid.Cid) bool { return n.content.Granted(p, c.String()) })
	})
	return n.ipfs.bs, n.ipfs.err
}

// closeIPFS stops Bitswap if it was started.
func (n *Node) closeIPFS() error {
	n.ipfs.once.Do(func() { n.ipfs.err = fmt.Errorf("the node is closed") }) // never starts now
	if n.ipfs.bs != nil {
		return n.ipfs.bs.Close()
	}
	return nil
}

// ipfsPeerTag protects the connections to the IPFS peers from the
// connection manager's trimming.
const ipfsPeerTag = "ipfs-peer"

// keepIPFSPeers connects to the IPFS peers of Config.IPFSPeers and
// reconnects to any that dropped, every redial, until the node closes.
func (n *Node) keepIPFSPeers(peers []peer.AddrInfo) {
	const redial = 10 * time.Second
	h := n.mesh.Host()
	for _, ai := range peers {
		h.ConnManager().Protect(ai.ID, ipfsPeerTag)
	}
	for {
		for _, ai := range peers {
			if h.Network().Connectedness(ai.ID) == network.Connected {
				continue
			}
			if err := h.Connect(n.ctx, ai); err != nil {
				log.Warnw("IPFS peer unreachable", "peer", ai.ID, "err", err)
			}
		}
		select {
		case <-n.ctx.Done():
			return
		case <-time.After(redial):
		}
	}
}

// publish makes the DAG root public (a job's outputs, job.Spec.Publish):
// its blocks served to whoever asks, over the blob protocol and Bitswap,
// and root announced on the mesh's DHT (in the background), so that any
// node finds it (FetchPublic) and an IPFS node connected to this one can
// fetch it.
func (n *Node) publish(root string, blocks []string) {
	c, err := cid.Decode(root)
	if err != nil {
		return
	}
	var bytes int64 // what a job taking it from IPFS need not fetch here
	if st, err := n.content.Stat(n.ctx, c, n.content.FetchBudget()); err == nil {
		bytes = st.Bytes
	}
	n.content.Publish(root, bytes, blocks...)
	if _, err := n.bitswap(); err != nil {
		log.Warnw("publishing: no Bitswap", "cid", root, "err", err)
	}
	n.spawn(func() {
		ctx, cancel := context.WithTimeout(n.ctx, time.Minute)
		defer cancel()
		if err := n.mesh.DHT().Provide(ctx, c, true); err != nil {
			log.Warnw("announcing published outputs", "cid", root, "err", err)
		}
	})
}

// FetchPublic brings the file or tree c into the node's store from
// whichever peer holds it — mesh nodes that published it, IPFS peers —
// over Bitswap, within the node's inputs limit, and returns what it
// amounts to.
func (n *Node) FetchPublic(ctx context.Context, c string) (*unixfs.Stat, error) {
	root, err := job.ParseCID(c)
	if err != nil {
		return nil, err
	}
	b := n.content.FetchBudget()
	if err := n.content.FetchIPFS(ctx, root, b); err != nil {
		return nil, err
	}
	return n.content.Stat(ctx, root, n.content.FetchBudget())
}

// republish serves and announces again what this node published before it
// restarted (store.PinPublished: a client's published outputs; a
// provider's copies go with their grant).
func (n *Node) republish() {
	roots, err := n.store.Published()
	if err != nil {
		log.Warnw("published content", "err", err)
		return
	}
	for _, root := range roots {
		st, err := n.content.Stat(n.ctx, root, n.content.FetchBudget())
		if err != nil {
			log.Warnw("published content not whole here: not served", "cid", root, "err", err)
			continue
		}
		blocks := make([]string, 0, len(st.Blocks))
		for _, b := range st.Blocks {
			blocks = append(blocks, b.String())
		}
		n.publish(root.String(), blocks)
	}
}
