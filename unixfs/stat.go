package unixfs

import (
	"context"
	"fmt"

	"github.com/ipfs/boxo/ipld/merkledag"
	ufs "github.com/ipfs/boxo/ipld/unixfs"
	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

// Stat is what a file or tree held in a blockstore amounts to.
type Stat struct {
	Bytes      int64     // the files' bytes, as their leaves hold them
	Files      int       // files (a single file is 1)
	Entries    int       // blocks visited walking it: what it expands to
	BlockBytes int64     // the bytes of its blocks, each once
	Blocks     []cid.Cid // every block, each once: what a peer fetching it needs
}

// Stat walks the DAG c in the blockstore alone (no exchange: a block it
// lacks fails it, naming the block), within lim: lim.Bytes of file bytes,
// lim.Entries files and directories and a visit a chunk more
// (lim.Bytes/ChunkSize), lim.Depth levels and 16 more. A block linked many
// times is read once but counted at every link, so a DAG that expands
// past lim is refused however few blocks it has; a file node whose
// declared size is not what its leaves hold is refused (a reader would
// write what the leaves hold). Raw leaves are not read, only sized.
func (d *DAG) Stat(ctx context.Context, c cid.Cid, lim Limits) (*Stat, error) {
	w := &statWalk{
		d: d, memo: map[statKey]statSum{}, seen: map[cid.Cid]bool{}, st: &Stat{},
		lim: Limits{Bytes: lim.Bytes, Entries: lim.Entries + int(lim.Bytes/ChunkSize) + 1024, Depth: lim.Depth + 16},
	}
	sum, err := w.walk(ctx, c, false, 0)
	if err == nil { // a single block is checked here, not in add
		err = w.add(c, &statSum{}, sum)
	}
	if err != nil {
		return nil, err
	}
	w.st.Bytes, w.st.Files, w.st.Entries = sum.bytes, sum.files, sum.entries
	return w.st, nil
}

type statKey struct {
	c      cid.Cid
	inFile bool
}

// statSum is what a block expands to: its files' bytes, its files, its
// visits, its levels.
type statSum struct {
	bytes   int64
	files   int
	entries int
	height  int
}

type statWalk struct {
	d    *DAG
	lim  Limits
	memo map[statKey]statSum
	seen map[cid.Cid]bool // blocks noted in Stat.Blocks
	st   *Stat
}

// add adds b to a, failing once a is past the limits.
func (w *statWalk) add(c cid.Cid, a *statSum, b statSum) error {
	a.bytes, a.files, a.entries = a.bytes+b.bytes, a.files+b.files, a.entries+b.entries
	if a.entries > w.lim.Entries {
		return fmt.Errorf("unixfs: %s: expands to more than %d blocks: %w", c, w.lim.Entries, ErrOverLimit)
	}
	if a.bytes > w.lim.Bytes || a.bytes < 0 {
		return fmt.Errorf("unixfs: %s: more than %d bytes of files: %w", c, w.lim.Bytes, ErrOverLimit)
	}
	return nil
}

// walk sums block c, reached inside a file (inFile) or not, depth deep.
func (w *statWalk) walk(ctx context.Context, c cid.Cid, inFile bool, depth int) (statSum, error) {
	if err := ctx.Err(); err != nil {
		return statSum{}, err
	}
	if depth > w.lim.Depth {
		return statSum{}, fmt.Errorf("unixfs: %s: more than %d levels: %w", c, w.lim.Depth, ErrOverLimit)
	}
	if s, ok := w.memo[statKey{c, inFile}]; ok {
		if depth+s.height > w.lim.Depth {
			return statSum{}, fmt.Errorf("unixfs: %s: more than %d levels: %w", c, w.lim.Depth, ErrOverLimit)
		}
		return s, nil
	}
	raw, size, data, links, err := w.read(ctx, c)
	if err != nil {
		return statSum{}, err
	}
	sum := statSum{entries: 1}
	if raw {
		sum.bytes = size
		if !inFile {
			sum.files = 1
		}
		w.memo[statKey{c, inFile}] = sum
		return sum, nil
	}
	fsn, err := ufs.FSNodeFromBytes(data)
	if err != nil {
		return statSum{}, fmt.Errorf("unixfs: block %s: %w", c, err)
	}
	file := false
	switch t := fsn.Type(); {
	case t == ufs.TDirectory || t == ufs.THAMTShard:
		if inFile {
			return statSum{}, fmt.Errorf("unixfs: block %s: a directory inside a file: %w", c, ErrUnsupported)
		}
	case t == ufs.TFile || t == ufs.TRaw:
		file = true
		sum.bytes = int64(len(fsn.Data()))
		if !inFile {
			sum.files = 1
		}
	default:
		return statSum{}, fmt.Errorf("unixfs: block %s: a %s: %w", c, t, ErrUnsupported)
	}
	for _, l := range links {
		s, err := w.walk(ctx, l, inFile || file, depth+1)
		if err != nil {
			return statSum{}, err
		}
		if err := w.add(c, &sum, s); err != nil {
			return statSum{}, err
		}
		sum.height = max(sum.height, s.height+1)
	}
	if file && uint64(sum.bytes) != fsn.FileSize() {
		return statSum{}, fmt.Errorf("unixfs: file %s declares %d bytes but holds %d: %w", c, fsn.FileSize(), sum.bytes, ErrUnsupported)
	}
	w.memo[statKey{c, inFile}] = sum
	return sum, nil
}

// read returns block c (noting it among the blocks, once): for a raw
// block its size alone (unread), else its dag-pb data and links. An
// identity CID holds its bytes: no block.
func (w *statWalk) read(ctx context.Context, c cid.Cid) (raw bool, size int64, data []byte, links []cid.Cid, err error) {
	var b []byte
	inline := c.Prefix().MhType == mh.IDENTITY
	if inline {
		dec, err := mh.Decode(c.Hash())
		if err != nil {
			return false, 0, nil, nil, fmt.Errorf("unixfs: block %s: %w", c, err)
		}
		b = dec.Digest
	}
	switch c.Type() {
	case cid.Raw:
		n := len(b)
		if !inline {
			if n, err = w.d.bs.GetSize(ctx, c); err != nil {
				return false, 0, nil, nil, fmt.Errorf("unixfs: block %s: %w", c, err)
			}
			w.note(c, int64(n))
		}
		return true, int64(n), nil, nil, nil
	case cid.DagProtobuf:
		if !inline {
			blk, err := w.d.bs.Get(ctx, c)
			if err != nil {
				return false, 0, nil, nil, fmt.Errorf("unixfs: block %s: %w", c, err)
			}
			b = blk.RawData()
			w.note(c, int64(len(b)))
		}
		pn, err := merkledag.DecodeProtobuf(b)
		if err != nil {
			return false, 0, nil, nil, fmt.Errorf("unixfs: block %s: %w", c, err)
		}
		for _, l := range pn.Links() {
			links = append(links, l.Cid)
		}
		return false, 0, pn.Data(), links, nil
	default:
		return false, 0, nil, nil, fmt.Errorf("unixfs: block %s: codec 0x%x is not UnixFS's: %w", c, c.Type(), ErrUnsupported)
	}
}

// note adds block c of n bytes to the stat's blocks, once.
func (w *statWalk) note(c cid.Cid, n int64) {
	if !w.seen[c] {
		w.seen[c] = true
		w.st.Blocks = append(w.st.Blocks, c)
		w.st.BlockBytes += n
	}
}
