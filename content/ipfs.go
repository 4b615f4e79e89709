package content

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/store"
	"github.com/computemesh/computemesh/unixfs"
	"github.com/ipfs/boxo/exchange"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
)

// Inputs from IPFS (job.SourceIPFS): fetched over Bitswap from whichever
// peer holds them — mesh nodes that announced them, IPFS nodes the
// provider is connected to (start --ipfs-peer) — each block checked
// against its CID, within the job's inputs budget like any input.

// ErrIPFSInputs means this node does not fetch inputs from IPFS (no
// exchange: WithIPFS).
var ErrIPFSInputs = errors.New("this provider does not fetch inputs from IPFS")

// WithIPFS lets the content fetch inputs from IPFS through the exchange
// that ex returns (Bitswap), started at the first such input.
func WithIPFS(ex func() (exchange.Interface, error)) Option {
	return func(c *Content) { c.ipfs = ex }
}

// DefaultIPFSStall is how long a fetch from IPFS waits for a block before
// it gives up: Bitswap asks its peers and the mesh's DHT, and waits for as
// long as it is let, for blocks no one may hold.
const DefaultIPFSStall = 30 * time.Second

// WithIPFSStall makes fetches from IPFS give up after d without a block
// (0: DefaultIPFSStall).
func WithIPFSStall(d time.Duration) Option {
	return func(c *Content) {
		if d > 0 {
			c.ipfsStall = d
		}
	}
}

// errIPFSStalled is the cause of a fetch from IPFS that went too long
// without a block.
var errIPFSStalled = errors.New("no block arrived: no peer found holds it")

// progress notes when a fetch last got a block (from a peer or the
// store).
type progress struct {
	last atomic.Int64 // unix ns
}

// watch cancels ctx with errIPFSStalled once p has gone stall without a
// block; stop ends it.
func (p *progress) watch(ctx context.Context, cancel context.CancelCauseFunc, stall time.Duration) (stop func()) {
	p.last.Store(time.Now().UnixNano())
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(max(min(stall/4, time.Second), 10*time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if since := time.Since(time.Unix(0, p.last.Load())); since > stall {
					cancel(fmt.Errorf("%w (none for %v)", errIPFSStalled, stall))
					return
				}
			}
		}
	}()
	return func() { close(done) }
}

// fetchIPFS fetches the IPFS input in over the exchange and lays it out
// under dir, within budget. c is a job's own content (StageInputs), on a
// store of its own: the input is what peers send for its CID, never
// blocks the node holds for someone else.
func (c *Content) fetchIPFS(ctx context.Context, in job.Input, dir string, budget *Budget) error {
	root, err := job.ParseCID(in.CID)
	if err != nil {
		return err
	}
	before := *budget
	if err := c.fetchIPFS1(ctx, c.store, root, budget); err != nil {
		return err
	}
	return c.Export(ctx, root, filepath.Join(dir, in.Name), &before)
}

// FetchBudget is what the node fetches of one file or tree for its owner
// (meshnode get of published content): its inputs limit.
func (c *Content) FetchBudget() *Budget { return inputsBudget(c.inputLimit) }

// FetchIPFS brings the file or tree root into the node's store from
// whichever peer holds it (Bitswap: WithIPFS), each block checked against
// its CID, and spends what it weighs from budget; it gives up after the
// stall time without a block (WithIPFSStall).
func (c *Content) FetchIPFS(ctx context.Context, root cid.Cid, budget *Budget) error {
	defer c.fetching(root)()
	return c.fetchIPFS1(ctx, c.store, root, budget)
}

// fetchIPFS1 is FetchIPFS into the store s.
func (c *Content) fetchIPFS1(ctx context.Context, s *store.Store, root cid.Cid, budget *Budget) error {
	if c.ipfs == nil {
		return ErrIPFSInputs
	}
	ex, err := c.ipfs()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrIPFSInputs, err)
	}
	if c.parent != nil {
		ex = localFirst{parent: c.parent, ex: ex} // data locality
	}
	var px progress
	fctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := px.watch(fctx, cancel, c.ipfsStall)
	dag := unixfs.New(unixfs.StoreBlocks(s), unixfs.WithExchange(ex))
	err = dag.Fetch(unixfs.WithProgress(fctx, func(int64) { px.last.Store(time.Now().UnixNano()) }), root, budget.Limits())
	stop()
	if err != nil {
		if errors.Is(err, unixfs.ErrOverLimit) {
			return fmt.Errorf("%w: %s from IPFS is more than %s allows: %v", ErrOverBudget, root, budget.limit, err)
		}
		if cause := context.Cause(fctx); errors.Is(cause, errIPFSStalled) {
			return fmt.Errorf("fetching %s from IPFS: %w", root, cause)
		}
		return fmt.Errorf("fetching %s from IPFS: %w", root, err)
	}
	if err := s.Sync(); err != nil {
		return err
	}
	st, err := unixfs.New(unixfs.StoreBlocks(s)).Stat(ctx, root, budget.Limits())
	if err != nil {
		return err
	}
	return budget.Take(max(st.Bytes, st.BlockBytes), st.Files) // a DAG weighs its blocks too
}

// localFirst is an exchange that takes a block the node holds public
// (published: anyone may have it) from the node's store, and asks its
// exchange for the rest: a job's IPFS input published here is not fetched
// again from peers (data locality), while a block the node holds for one
// client alone is never what another's job gets.
type localFirst struct {
	parent *Content
	ex     exchange.Interface
}

func (l localFirst) local(c cid.Cid) (blocks.Block, bool) {
	if !l.parent.publicBlock(c.String()) {
		return nil, false
	}
	b, err := l.parent.store.Get(c) // checked against c
	if err != nil {
		return nil, false
	}
	blk, err := blocks.NewBlockWithCid(b, c)
	return blk, err == nil
}

func (l localFirst) GetBlock(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	if b, ok := l.local(c); ok {
		return b, nil
	}
	return l.ex.GetBlock(ctx, c)
}

func (l localFirst) GetBlocks(ctx context.Context, cs []cid.Cid) (<-chan blocks.Block, error) {
	return l.ex.GetBlocks(ctx, cs)
}

func (l localFirst) NotifyNewBlocks(ctx context.Context, bs ...blocks.Block) error {
	return l.ex.NotifyNewBlocks(ctx, bs...)
}

func (l localFirst) Close() error { return nil } // the node's exchange, not this view's

// NewSession keeps Bitswap's sessions (one for a DAG), local blocks first.
func (l localFirst) NewSession(ctx context.Context) exchange.Fetcher {
	if se, ok := l.ex.(exchange.SessionExchange); ok {
		return localFirstFetcher{l: l, f: se.NewSession(ctx)}
	}
	return l
}

type localFirstFetcher struct {
	l localFirst
	f exchange.Fetcher
}

func (f localFirstFetcher) GetBlock(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	if b, ok := f.l.local(c); ok {
		return b, nil
	}
	return f.f.GetBlock(ctx, c)
}

func (f localFirstFetcher) GetBlocks(ctx context.Context, cs []cid.Cid) (<-chan blocks.Block, error) {
	return f.f.GetBlocks(ctx, cs)
}
