package unixfs

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/blockstore"
	chunker "github.com/ipfs/boxo/chunker"
	"github.com/ipfs/boxo/exchange"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs/importer/balanced"
	"github.com/ipfs/boxo/ipld/unixfs/importer/helpers"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	ipld "github.com/ipfs/go-ipld-format"
	mh "github.com/multiformats/go-multihash"
)

// Import settings: kubo's defaults (doc.go, testdata/kubo.json).
const (
	ChunkSize    = 256 << 10 // bytes of a leaf
	FileLinks    = 174       // links of a file's inner node
	ShardingSize = 256 << 10 // a directory's estimated size past which it is a HAMT
	ShardFanout  = 256       // a HAMT node's width
)

// prefix is the CID of every block: v1, SHA2-256 (the codec is the
// block's: raw for leaves, dag-pb for the rest).
var prefix = cid.Prefix{Version: 1, Codec: cid.DagProtobuf, MhType: mh.SHA2_256, MhLength: -1}

// DAG adds to and reads from a blockstore. It is safe for concurrent use
// when its blockstore is.
type DAG struct {
	bs   blockstore.Blockstore
	bsvc blockservice.BlockService
	dag  ipld.DAGService
}

// New returns a DAG over bs. Blocks come from bs alone unless an exchange
// is given (WithExchange: a Bitswap, exchange.go).
func New(bs blockstore.Blockstore, opts ...Option) *DAG {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	// Identity CIDs (ipfs add --inline) hold their bytes: no block to get.
	bsvc := blockservice.New(blockstore.NewIdStore(bs), o.exchange)
	return &DAG{bs: bs, bsvc: bsvc, dag: merkledag.NewDAGService(bsvc)}
}

// Option configures a DAG.
type Option func(*options)

type options struct {
	exchange exchange.Interface
}

// WithExchange fetches the blocks the blockstore lacks through ex (and
// keeps them there), e.g. Bitswap from peers (NewBitswap).
func WithExchange(ex exchange.Interface) Option {
	return func(o *options) { o.exchange = ex }
}

// Blockstore returns the DAG's blockstore.
func (d *DAG) Blockstore() blockstore.Blockstore { return d.bs }

// AddFile imports r as a file and returns its CID and size. A file of at
// most one chunk is a single raw block (its CID is that of its bytes).
func (d *DAG) AddFile(ctx context.Context, r io.Reader) (cid.Cid, int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // a failed import's batches stop writing
	dag := d.batch(ctx)
	n, size, err := addFile(ctx, dag, r)
	if err == nil {
		err = dag.Commit()
	}
	if err != nil {
		return cid.Undef, 0, err
	}
	return n.Cid(), size, nil
}

// batch returns a DAG service that writes d's blocks in batches of at most
// batchBytes or batchNodes (a batch is committed in the background while
// the next fills, a few at once: what an import holds in memory).
func (d *DAG) batch(ctx context.Context) *ipld.BufferedDAG {
	return ipld.NewBufferedDAG(ctx, d.dag, ipld.MaxSizeBatchOption(batchBytes), ipld.MaxNodesBatchOption(batchNodes))
}

// Batches of blocks written together (kubo: 20 MiB, 128 blocks; smaller
// here, as go-ipld-format commits up to twice the CPUs' number at once).
const (
	batchBytes = 4 << 20
	batchNodes = 128
)

// addFile imports r as a file into dag.
func addFile(ctx context.Context, dag ipld.DAGService, r io.Reader) (ipld.Node, int64, error) {
	cr := &countingReader{r: r, ctx: ctx, progress: progressOf(ctx)}
	params := helpers.DagBuilderParams{Dagserv: dag, Maxlinks: FileLinks, RawLeaves: true, CidBuilder: prefix}
	db, err := params.New(chunker.NewSizeSplitter(cr, ChunkSize))
	if err != nil {
		return nil, 0, fmt.Errorf("unixfs: %w", err)
	}
	n, err := balanced.Layout(db)
	if err != nil {
		return nil, 0, fmt.Errorf("unixfs: importing a file: %w", err)
	}
	return n, cr.n, nil
}

// FileCID returns the CID r would have as a file, keeping nothing (as
// ipfs add --only-hash): what a fetched input is checked against.
func FileCID(ctx context.Context, r io.Reader) (cid.Cid, error) {
	c, _, err := New(blockstore.NewBlockstore(discard{dssync.MutexWrap(ds.NewMapDatastore())})).AddFile(ctx, r)
	return c, err
}

// discard is a datastore whose writes are dropped.
type discard struct{ ds.Batching }

func (discard) Put(context.Context, ds.Key, []byte) error { return nil }

func (discard) Batch(context.Context) (ds.Batch, error) { return discardBatch{}, nil }

type discardBatch struct{}

func (discardBatch) Put(context.Context, ds.Key, []byte) error { return nil }
func (discardBatch) Delete(context.Context, ds.Key) error      { return nil }
func (discardBatch) Commit(context.Context) error              { return nil }

// countingReader counts what it reads and stops when ctx is done.
type countingReader struct {
	r        io.Reader
	ctx      context.Context
	n        int64
	progress func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.progress != nil {
		c.progress(int64(n))
	}
	return n, err
}

// newDirectory returns an empty directory with the import settings.
func newDirectory(dag ipld.DAGService) (uio.Directory, error) {
	dir, err := uio.NewDirectory(dag, uio.WithCidBuilder(prefix), uio.WithMaxHAMTFanout(ShardFanout),
		uio.WithSizeEstimationMode(uio.SizeEstimationLinks))
	if err != nil {
		return nil, fmt.Errorf("unixfs: %w", err)
	}
	if b, ok := dir.(interface{ SetHAMTShardingSize(int) }); ok {
		b.SetHAMTShardingSize(ShardingSize)
	}
	return dir, nil
}

// ErrNotFile is returned by Open for a CID that is not a file.
var ErrNotFile = errors.New("not a file")

// Open returns a reader of the file c (its blocks read as needed) and its
// size.
func (d *DAG) Open(ctx context.Context, c cid.Cid) (uio.DagReader, error) {
	n, err := d.dag.Get(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("unixfs: %s: %w", c, err)
	}
	r, err := uio.NewDagReader(ctx, n, d.dag)
	if errors.Is(err, uio.ErrIsDir) {
		return nil, fmt.Errorf("unixfs: %s is a directory: %w", c, ErrNotFile)
	}
	if err != nil {
		return nil, fmt.Errorf("unixfs: %s: %w", c, err)
	}
	return r, nil
}
