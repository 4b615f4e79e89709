package unixfs

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/ipld/merkledag"
	ufs "github.com/ipfs/boxo/ipld/unixfs"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

// Limits bound what an export writes and a fetch takes. A DAG from a peer
// may link one block many times (a file node of 174 links to one leaf, a
// directory of names all linking to one directory): what it expands to,
// not what its blocks weigh, is what is counted.
type Limits struct {
	Bytes   int64 // file bytes written (Export), block bytes fetched (Fetch)
	Entries int   // files and directories written, blocks fetched
	Depth   int   // directories within directories
}

// DefaultLimits are modest limits for a caller without its own (a node
// derives its from a job's budget): 1 GiB, 16,384 entries, 64
// levels.
func DefaultLimits() Limits { return Limits{Bytes: 1 << 30, Entries: 16384, Depth: 64} }

// ErrOverLimit is returned when a DAG expands past an export's or a
// fetch's Limits.
var ErrOverLimit = errors.New("over the limit")

// budget is what is left of a Limits.
type budget struct{ Limits }

func (b *budget) entry(p string) error {
	if b.Entries--; b.Entries < 0 {
		return fmt.Errorf("unixfs: %s: more entries than allowed: %w", p, ErrOverLimit)
	}
	return nil
}

// Export writes the file or tree c at target, which must not exist, within
// lim. It writes into a temporary name beside target, renamed to target at
// the end and removed on any error: a refused or failed export leaves
// nothing. A tree's entries are written beneath an os.Root of their
// directory; a name that is empty, ".", "..", or holds a "/" or a NUL is
// refused with ErrUnsupported, as is a symbolic link; a file's bytes are
// counted as they are written.
func (d *DAG) Export(ctx context.Context, c cid.Cid, target string, lim Limits) (err error) {
	n, err := d.dag.Get(ctx, c)
	if err != nil {
		return fmt.Errorf("unixfs: %s: %w", c, err)
	}
	if _, err := os.Lstat(target); err == nil {
		return fmt.Errorf("unixfs: %s: %w", target, os.ErrExist)
	}
	parent, err := os.OpenRoot(filepath.Dir(target))
	if err != nil {
		return fmt.Errorf("unixfs: %w", err)
	}
	defer parent.Close()
	b := &budget{lim}
	if err := b.entry(target); err != nil {
		return err
	}
	// A name of its own, removed on failure only once made here: never
	// anything that was there before.
	tmp := "." + filepath.Base(target) + ".partial-" + rand.Text()[:12]
	made := false
	defer func() {
		if err != nil && made {
			parent.RemoveAll(tmp)
		}
	}()
	if isDir(n) {
		if err := parent.Mkdir(tmp, 0o755); err != nil {
			return fmt.Errorf("unixfs: %w", err)
		}
		made = true
		err = d.exportDir(ctx, parent, tmp, target, n, 0, b)
	} else {
		made = true // exportFile creates it with O_EXCL: nothing there before
		err = d.exportFile(ctx, parent, tmp, target, n, b)
	}
	if err != nil {
		return err
	}
	if _, err := os.Lstat(target); err == nil {
		return fmt.Errorf("unixfs: %s: %w", target, os.ErrExist)
	}
	return parent.Rename(tmp, filepath.Base(target))
}

// isDir reports whether n is a UnixFS directory or HAMT shard.
func isDir(n ipld.Node) bool {
	pn, ok := n.(*merkledag.ProtoNode)
	if !ok {
		return false
	}
	fsn, err := ufs.FSNodeFromBytes(pn.Data())
	return err == nil && (fsn.Type() == ufs.TDirectory || fsn.Type() == ufs.THAMTShard)
}

// exportDir writes directory node n as name beneath root (made already),
// at p in the tree and depth deep.
func (d *DAG) exportDir(ctx context.Context, root *os.Root, name, p string, n ipld.Node, depth int, b *budget) error {
	if depth >= b.Depth {
		return fmt.Errorf("unixfs: %s: more than %d levels: %w", p, b.Depth, ErrOverLimit)
	}
	sub, err := root.OpenRoot(name)
	if err != nil {
		return fmt.Errorf("unixfs: %w", err)
	}
	defer sub.Close()
	dir, err := uio.NewDirectoryFromNode(d.dag, n)
	if err != nil {
		return fmt.Errorf("unixfs: %s: %w", p, err)
	}
	return dir.ForEachLink(ctx, func(l *ipld.Link) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if l.Name == "" || l.Name == "." || l.Name == ".." || strings.ContainsAny(l.Name, "/\x00") {
			return fmt.Errorf("unixfs: %s: an entry named %q: %w", p, l.Name, ErrUnsupported)
		}
		child := p + "/" + l.Name
		if err := b.entry(child); err != nil {
			return err
		}
		cn, err := l.GetNode(ctx, d.dag)
		if err != nil {
			return fmt.Errorf("unixfs: %s: %w", child, err)
		}
		if isDir(cn) {
			if err := sub.Mkdir(l.Name, 0o755); err != nil {
				return fmt.Errorf("unixfs: %w", err)
			}
			return d.exportDir(ctx, sub, l.Name, child, cn, depth+1, b)
		}
		return d.exportFile(ctx, sub, l.Name, child, cn, b)
	})
}

// exportFile writes file node n as name beneath root (p in the tree),
// refusing it before writing when it declares more than is left of b, and
// stopping when it turns out to hold more.
func (d *DAG) exportFile(ctx context.Context, root *os.Root, name, p string, n ipld.Node, b *budget) (err error) {
	r, err := uio.NewDagReader(ctx, n, d.dag)
	if errors.Is(err, uio.ErrCantReadSymlinks) {
		return fmt.Errorf("unixfs: %s: a symbolic link: %w", p, ErrUnsupported)
	}
	if err != nil {
		return fmt.Errorf("unixfs: %s: %w", p, err)
	}
	defer r.Close()
	if int64(r.Size()) > b.Bytes || int64(r.Size()) < 0 {
		return fmt.Errorf("unixfs: %s: %d bytes, more than the %d left: %w", p, r.Size(), b.Bytes, ErrOverLimit)
	}
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("unixfs: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("unixfs: %s: %w", p, cerr)
		}
	}()
	size := int64(r.Size())
	k, err := io.Copy(f, io.LimitReader(ctxReader{ctx, r}, size+1))
	if err != nil {
		return fmt.Errorf("unixfs: %s: %w", p, err)
	}
	if k != size { // its leaves hold more, or less, than it declares
		return fmt.Errorf("unixfs: %s: declares %d bytes but holds %s: %w", p, size, map[bool]string{true: "more", false: "less"}[k > size], ErrUnsupported)
	}
	b.Bytes -= k
	return nil
}

// ctxReader stops reading once ctx is done, and reports what it reads to
// ctx's progress function.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(p)
	progressOf(c.ctx)(int64(n))
	return n, err
}

// Fetch makes sure the blockstore holds every block of c, fetching what it
// lacks through the exchange a level of the DAG at a time, fetchWorkers
// blocks at once (a DAG reader alone asks for a few blocks ahead of what
// it reads), each block once, within what exporting lim can need:
// lim.Bytes of blocks and 1 MiB more, a block an entry and a chunk, and
// lim.Depth levels and 16 more (a file's inner levels, a HAMT's).
func (d *DAG) Fetch(ctx context.Context, c cid.Cid, lim Limits) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // a refused DAG's fetches stop
	seen := map[cid.Cid]bool{c: true}
	level := []cid.Cid{c}
	b := &budget{Limits{Bytes: lim.Bytes + 1<<20, Entries: 2*lim.Entries + int(lim.Bytes/ChunkSize) + 1024, Depth: lim.Depth + 16}}
	// One session for the whole DAG: Bitswap keeps asking the peers that
	// had its first blocks, rather than every peer for every block.
	session := blockservice.NewSession(ctx, d.bsvc)
	for depth := 0; len(level) > 0; depth++ {
		if depth > b.Depth {
			return fmt.Errorf("unixfs: fetching %s: more than %d levels: %w", c, b.Depth, ErrOverLimit)
		}
		ch := d.getLevel(ctx, session, level)
		next, err := fetchLevel(c, ch, seen, b, progressOf(ctx))
		if err != nil {
			cancel()
			for range ch { // its workers stop: none writes after Fetch returns
			}
			return err
		}
		if err := ctx.Err(); err != nil { // a worker's error may have lost to the cancellation
			return fmt.Errorf("unixfs: fetching %s: %w", c, err)
		}
		level = next
	}
	return nil
}

// fetchLevel takes a level's blocks from ch, counting them against b, and
// returns the links they name that were not seen.
func fetchLevel(root cid.Cid, ch <-chan gotBlock, seen map[cid.Cid]bool, b *budget, progress func(int64)) ([]cid.Cid, error) {
	var next []cid.Cid
	for got := range ch {
		if got.err != nil {
			return nil, fmt.Errorf("unixfs: fetching %s: %w", root, got.err)
		}
		progress(int64(len(got.blk.RawData())))
		if b.Bytes -= int64(len(got.blk.RawData())); b.Bytes < 0 {
			return nil, fmt.Errorf("unixfs: fetching %s: more block bytes than allowed: %w", root, ErrOverLimit)
		}
		ls, err := blockLinks(got.blk)
		if err != nil {
			return nil, fmt.Errorf("unixfs: fetching %s: block %s: %w", root, got.blk.Cid(), err)
		}
		for _, l := range ls {
			if !seen[l] {
				// Counted as it is queued: a block of 2 MiB may name
				// 47,000 others.
				if err := b.entry(got.blk.Cid().String()); err != nil {
					return nil, err
				}
				seen[l] = true
				next = append(next, l)
			}
		}
	}
	return next, nil
}

// fetchWorkers is how many blocks a Fetch asks for at once: each stored by
// the goroutine that got it, so that writing blocks to disk and fetching
// them overlap.
const fetchWorkers = 32

type gotBlock struct {
	blk blocks.Block
	err error
}

// getLevel gets the blocks cs from the blockstore, or through the
// exchange into it, fetchWorkers at a time, in any order; the channel
// closes once all are sent, or after the first error, or once ctx is done.
func (d *DAG) getLevel(ctx context.Context, session *blockservice.Session, cs []cid.Cid) <-chan gotBlock {
	out := make(chan gotBlock, fetchWorkers)
	next := make(chan cid.Cid)
	var wg sync.WaitGroup
	for range min(fetchWorkers, len(cs)) {
		wg.Go(func() {
			for c := range next {
				blk, err := session.GetBlock(ctx, c)
				select {
				case out <- gotBlock{blk, err}:
				case <-ctx.Done():
				}
			}
		})
	}
	go func() {
		defer close(out)
	feed:
		for _, c := range cs {
			select {
			case next <- c:
			case <-ctx.Done():
				break feed
			}
		}
		close(next)
		wg.Wait()
	}()
	return out
}

// blockLinks are the CIDs a block links to: a dag-pb node's links, none
// for a raw block.
func blockLinks(blk blocks.Block) ([]cid.Cid, error) {
	switch blk.Cid().Type() {
	case cid.Raw:
		return nil, nil
	case cid.DagProtobuf:
		n, err := merkledag.DecodeProtobuf(blk.RawData())
		if err != nil {
			return nil, err
		}
		out := make([]cid.Cid, 0, len(n.Links()))
		for _, l := range n.Links() {
			out = append(out, l.Cid)
		}
		return out, nil
	default:
		return nil, fmt.Errorf("codec 0x%x is not UnixFS's: %w", blk.Cid().Type(), ErrUnsupported)
	}
}
