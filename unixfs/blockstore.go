package unixfs

import (
	"context"
	"errors"
	"fmt"

	"github.com/ipfs/boxo/blockstore"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	flatfs "github.com/ipfs/go-ds-flatfs"
	ipld "github.com/ipfs/go-ipld-format"
	logging "github.com/ipfs/go-log/v2"
)

var log = logging.Logger("unixfs")

// Blockstore is a blockstore of files on disk, closed with Close.
type Blockstore struct {
	blockstore.Blockstore
	ds *flatfs.Datastore
}

// OpenBlockstore opens, creating it if need be, the blockstore in dir:
// go-ds-flatfs, one file a block in directories named by the next-to-last
// two characters of its key, each write synced — kubo's own layout
// (flatfs/shard/v1/next-to-last/2, keys without the "/blocks" prefix that
// kubo's mount takes off).
func OpenBlockstore(dir string) (*Blockstore, error) {
	ds, err := flatfs.CreateOrOpen(dir, flatfs.NextToLast(2), true)
	if err != nil {
		return nil, fmt.Errorf("unixfs: opening the blockstore in %s: %w", dir, err)
	}
	return &Blockstore{Blockstore: blockstore.NewBlockstoreNoPrefix(ds), ds: ds}, nil
}

// Close releases the blockstore's files.
func (b *Blockstore) Close() error { return b.ds.Close() }

// ErrDamaged is what a damaged block (its bytes no longer hash to its CID:
// a failing disk, a file changed behind the node's back) is logged as.
var ErrDamaged = errors.New("the block does not match its CID")

// Get returns block c, its bytes checked against c: a block on disk is
// never trusted as it is. A damaged one is deleted, logged, and reported
// not found, so that it can be fetched or added again (kept, it would
// stand in the way: the blockstore skips a Put of what it has).
func (b *Blockstore) Get(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	blk, err := b.Blockstore.Get(ctx, c)
	if err != nil {
		return nil, err
	}
	sum, err := c.Prefix().Sum(blk.RawData())
	if err != nil {
		return nil, fmt.Errorf("unixfs: block %s: %w", c, err)
	}
	if !sum.Equals(c) {
		log.Errorw("dropping a damaged block", "cid", c, "err", ErrDamaged, "delete", b.Blockstore.DeleteBlock(ctx, c))
		return nil, ipld.ErrNotFound{Cid: c}
	}
	return blk, nil
}

// GetSize returns the size of block c, checked as Get checks it (Bitswap
// answers "have" by it: it must not promise a damaged block).
func (b *Blockstore) GetSize(ctx context.Context, c cid.Cid) (int, error) {
	blk, err := b.Get(ctx, c)
	if err != nil {
		return -1, err
	}
	return len(blk.RawData()), nil
}
