package unixfs

import (
	"context"
	"errors"

	"github.com/computemesh/computemesh/store"
	"github.com/ipfs/boxo/blockstore"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

// StoreBlocks is a node's content store (package store: a file a blob,
// each checked against its CID when read) as a blockstore, so that DAGs
// live beside the node's other blobs under the same limits, pins and
// collections (store.Closure follows a DAG's links).
//
// Put and PutMany are not durable by themselves: whoever completes a DAG
// (an import, a fetch) calls the store's Sync before counting on it, one
// sync for all its blocks.
func StoreBlocks(s *store.Store) blockstore.Blockstore { return storeBlocks{s} }

type storeBlocks struct{ s *store.Store }

var _ blockstore.Blockstore = storeBlocks{}

func (b storeBlocks) DeleteBlock(_ context.Context, c cid.Cid) error { return b.s.Remove(c) }

func (b storeBlocks) Has(_ context.Context, c cid.Cid) (bool, error) { return b.s.Has(c), nil }

// Get returns block c, checked against c; a damaged block is dropped and
// reported not found, so that it can be fetched again.
func (b storeBlocks) Get(_ context.Context, c cid.Cid) (blocks.Block, error) {
	data, err := b.s.Get(c)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ipld.ErrNotFound{Cid: c}
	}
	if err != nil {
		return nil, err
	}
	return blocks.NewBlockWithCid(data, c)
}

func (b storeBlocks) GetSize(_ context.Context, c cid.Cid) (int, error) {
	n, err := b.s.Size(c)
	if errors.Is(err, store.ErrNotFound) {
		return -1, ipld.ErrNotFound{Cid: c}
	}
	if err != nil {
		return -1, err
	}
	return int(n), nil
}

// Put stores blk without hashing it again: a block reaches a blockstore
// from an importer that hashed it, from Bitswap, which names a block it
// receives by the hash of its bytes, or from an exchange that checked it
// (the mesh's blob fetch); and every read checks it against its CID.
func (b storeBlocks) Put(_ context.Context, blk blocks.Block) error {
	return b.s.PutHashedBlock(blk.Cid(), blk.RawData())
}

func (b storeBlocks) PutMany(ctx context.Context, blks []blocks.Block) error {
	for _, blk := range blks {
		if err := b.Put(ctx, blk); err != nil {
			return err
		}
	}
	return nil
}

func (b storeBlocks) AllKeysChan(ctx context.Context) (<-chan cid.Cid, error) {
	cs, err := b.s.CIDs()
	if err != nil {
		return nil, err
	}
	out := make(chan cid.Cid)
	go func() {
		defer close(out)
		for _, c := range cs {
			select {
			case out <- c:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}
