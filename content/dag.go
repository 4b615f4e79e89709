package content

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/store"
	"github.com/computemesh/computemesh/unixfs"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// DAG is the store's UnixFS view: files and trees as IPFS keeps them, their
// blocks among the store's blobs.
func (c *Content) DAG() *unixfs.DAG { return c.dag }

// Add imports the file or directory tree at path as UnixFS (the CID `ipfs
// add --cid-version 1 --raw-leaves` gives it) and returns its CID once
// every block is durable. A tree follows no link: see unixfs.AddTree.
func (c *Content) Add(ctx context.Context, path string) (cid.Cid, error) {
	return Add(ctx, c.store, path)
}

// Add is Content.Add on a store alone (the CLI's, beside a running node).
func Add(ctx context.Context, s *store.Store, path string) (cid.Cid, error) {
	st, err := os.Stat(path)
	if err != nil {
		return cid.Undef, err
	}
	dag := unixfs.New(unixfs.StoreBlocks(s))
	var id cid.Cid
	if st.IsDir() {
		id, err = dag.AddTree(ctx, path)
	} else {
		var f *os.File
		if f, err = os.Open(path); err != nil {
			return cid.Undef, err
		}
		defer f.Close()
		id, _, err = dag.AddFile(ctx, f)
	}
	if err != nil {
		return cid.Undef, fmt.Errorf("adding %s: %w", path, err)
	}
	return id, s.Sync()
}

// Limits are what a fetch or export within b may take: its bytes and files
// (directories count as entries too: twice the files), 64 levels.
func (b *Budget) Limits() unixfs.Limits {
	return unixfs.Limits{Bytes: b.bytes, Entries: 2 * b.files, Depth: 64}
}

// Stat is what the file or tree id, all of it in the store, amounts to;
// within b's limits (nothing is spent).
func (c *Content) Stat(ctx context.Context, id cid.Cid, b *Budget) (*unixfs.Stat, error) {
	st, err := c.dag.Stat(ctx, id, b.Limits())
	if err != nil {
		return nil, err
	}
	if st.Files > b.files {
		return nil, fmt.Errorf("%w: %d files, more than %s allows", ErrOverBudget, st.Files, b.limit)
	}
	return st, nil
}

// Fetch brings the file or tree id from p into the store, each block
// checked against its CID, and spends its bytes and files from budget: a
// DAG that expands past it is refused as the fetch reaches the limit.
// Blocks the store holds already are not fetched. A manifest of the
// earlier format is fetched as FetchTree does.
func (c *Content) Fetch(ctx context.Context, p peer.ID, id string, budget *Budget) error {
	root, err := job.ParseCID(id)
	if err != nil {
		return err
	}
	if root.Type() == job.CodecJSON || root.Type() == cid.Raw {
		// A manifest of the earlier format, or a single block: a file of
		// one chunk, or of the earlier format, whole (up to 64 MiB).
		_, err := c.FetchTree(ctx, p, id, budget)
		return err
	}
	defer c.fetching(root)()
	ex := &peerBlocks{f: c.fetch, p: p}
	dag := unixfs.New(unixfs.StoreBlocks(c.store), unixfs.WithExchange(ex))
	if err := dag.Fetch(ctx, root, budget.Limits()); err != nil {
		if errors.Is(err, unixfs.ErrOverLimit) {
			return fmt.Errorf("%w: %s from %s is more than %s allows: %v", ErrOverBudget, id, p, budget.limit, err)
		}
		if first := ex.failure(); first != nil {
			return first // the Fetcher's: it names the block and the peer
		}
		return fmt.Errorf("fetching %s from %s: %w", id, p, err)
	}
	if err := c.store.Sync(); err != nil {
		return err
	}
	st, err := c.Stat(ctx, root, budget)
	if err != nil {
		return err
	}
	return budget.Take(max(st.Bytes, st.BlockBytes), st.Files) // a DAG weighs its blocks too
}

// FetchFrom is Fetch with every block from p, none taken from this node's
// store, then copied there: for outputs the client will publish, which
// must be what p holds — a hostile provider naming the CID of something
// this node holds privately must not make it publish that.
func (c *Content) FetchFrom(ctx context.Context, p peer.ID, id string, budget *Budget) error {
	root, err := job.ParseCID(id)
	if err != nil {
		return err
	}
	s, done, err := c.staging()
	if err != nil {
		return err
	}
	defer done()
	if err := New(s, c.fetch).Fetch(ctx, p, id, budget); err != nil {
		return err
	}
	defer c.fetching(root)()
	return store.CopyDAG(s, c.store, root)
}

// stagingDir is where a node's stores of their own (a job's inputs,
// outputs to publish) live while in use: inside its store's directory,
// which the store's listing skips (a directory), emptied when the node
// starts (New), so that a crash leaves nothing behind for long.
const stagingDir = ".staging"

// staging makes a store of its own under the node's store; done removes
// it.
func (c *Content) staging() (*store.Store, func(), error) {
	parent := filepath.Join(c.store.Dir(), stagingDir)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return nil, nil, err
	}
	dir, err := os.MkdirTemp(parent, "stage-")
	if err != nil {
		return nil, nil, err
	}
	s, err := store.Open(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	return s, func() { os.RemoveAll(dir) }, nil
}

// fetching notes root as a DAG being fetched until the returned func is
// called: a collection keeps it and what it has of it (GC).
func (c *Content) fetching(root cid.Cid) (done func()) {
	k := root.String()
	c.mu.Lock()
	c.inflight[k]++
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		if c.inflight[k]--; c.inflight[k] <= 0 {
			delete(c.inflight, k)
		}
		c.mu.Unlock()
	}
}

// Export writes the file or tree id, held in the store, at target (which
// must not exist; its directory is made), within budget.
func (c *Content) Export(ctx context.Context, id cid.Cid, target string, b *Budget) error {
	if id.Type() == job.CodecJSON { // the earlier format
		m, err := c.store.Manifest(id)
		if err != nil {
			return err
		}
		return c.store.Export(m, target)
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	return c.dag.Export(ctx, id, target, b.Limits())
}

// peerBlocks is an exchange that fetches blocks from one peer only — a
// job's client or provider, which serves a peer only the blocks it has
// granted it — so that a job's CIDs go to no one else (as Bitswap's
// broadcast of wants to every connected peer would send them).
type peerBlocks struct {
	f Fetcher
	p peer.ID

	mu    sync.Mutex
	first error
}

func (x *peerBlocks) fail(err error) {
	x.mu.Lock()
	if x.first == nil {
		x.first = err
	}
	x.mu.Unlock()
}

// failure is the first fetch that failed (nil: none did).
func (x *peerBlocks) failure() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.first
}

func (x *peerBlocks) GetBlock(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	b, err := x.f.FetchBlob(ctx, x.p, c.String(), store.MaxBlock)
	if err != nil {
		if ctx.Err() == nil { // not one of those a failure stopped
			x.fail(err)
		}
		return nil, err
	}
	return blocks.NewBlockWithCid(b, c)
}

// GetBlocks fetches cs one after another; the channel closes once all are
// sent or one fails (failure says which). The fetches of this package ask
// for a block at a time (GetBlock: unixfs.Fetch runs its own workers).
func (x *peerBlocks) GetBlocks(ctx context.Context, cs []cid.Cid) (<-chan blocks.Block, error) {
	out := make(chan blocks.Block)
	go func() {
		defer close(out)
		for _, c := range cs {
			b, err := x.GetBlock(ctx, c)
			if err != nil {
				return
			}
			select {
			case out <- b:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

func (x *peerBlocks) NotifyNewBlocks(context.Context, ...blocks.Block) error { return nil }

func (x *peerBlocks) Close() error { return nil }
