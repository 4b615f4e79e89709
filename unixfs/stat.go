package unixfs

import (
	"context"
	"fmt"

	"github.com/ipfs/boxo/ipld/merkledag"
	ufs "github.com/ipfs/boxo/ipld/unixfs"
	"github.com/ipfs/go-cid"
)

// Stat is what a file or tree held in a blockstore amounts to.
type Stat struct {
	Bytes  int64     // the files' bytes, as their nodes declare them
	Files  int       // files (a single file is 1)
	Blocks []cid.Cid // every block, each once: what a peer fetching it needs
}

// Stat walks the DAG c in the blockstore alone (no exchange: a block it
// lacks fails it, naming the block), within lim: its blocks, its files and
// their bytes. Raw leaves are not read, only checked to be there.
func (d *DAG) Stat(ctx context.Context, c cid.Cid, lim Limits) (*Stat, error) {
	st := &Stat{}
	seen := map[cid.Cid]bool{}
	b := &budget{Limits{Bytes: lim.Bytes, Entries: lim.Entries + int(lim.Bytes/ChunkSize) + 1024, Depth: lim.Depth + 16}}
	if err := d.stat(ctx, c, false, 0, st, seen, b); err != nil {
		return nil, err
	}
	if st.Bytes > lim.Bytes {
		return nil, fmt.Errorf("unixfs: %s: %d bytes, limit %d: %w", c, st.Bytes, lim.Bytes, ErrOverLimit)
	}
	return st, nil
}

// stat adds block c, reached inside a file (inFile) or not, depth deep.
func (d *DAG) stat(ctx context.Context, c cid.Cid, inFile bool, depth int, st *Stat, seen map[cid.Cid]bool, b *budget) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if depth > b.Depth {
		return fmt.Errorf("unixfs: %s: more than %d levels: %w", c, b.Depth, ErrOverLimit)
	}
	if err := b.entry(c.String()); err != nil {
		return err
	}
	if !seen[c] {
		seen[c] = true
		st.Blocks = append(st.Blocks, c)
	}
	if c.Type() == cid.Raw {
		n, err := d.bs.GetSize(ctx, c)
		if err != nil {
			return fmt.Errorf("unixfs: block %s: %w", c, err)
		}
		if !inFile {
			st.Bytes, st.Files = st.Bytes+int64(n), st.Files+1
		}
		return nil
	}
	if c.Type() != cid.DagProtobuf {
		return fmt.Errorf("unixfs: block %s: codec 0x%x is not UnixFS's: %w", c, c.Type(), ErrUnsupported)
	}
	blk, err := d.bs.Get(ctx, c)
	if err != nil {
		return fmt.Errorf("unixfs: block %s: %w", c, err)
	}
	pn, err := merkledag.DecodeProtobuf(blk.RawData())
	if err != nil {
		return fmt.Errorf("unixfs: block %s: %w", c, err)
	}
	fsn, err := ufs.FSNodeFromBytes(pn.Data())
	if err != nil {
		return fmt.Errorf("unixfs: block %s: %w", c, err)
	}
	switch t := fsn.Type(); {
	case t == ufs.TDirectory || t == ufs.THAMTShard:
		if inFile {
			return fmt.Errorf("unixfs: block %s: a directory inside a file: %w", c, ErrUnsupported)
		}
	case t == ufs.TFile || t == ufs.TRaw:
		if !inFile {
			st.Bytes, st.Files, inFile = st.Bytes+int64(fsn.FileSize()), st.Files+1, true
		}
	default:
		return fmt.Errorf("unixfs: block %s: a %s: %w", c, t, ErrUnsupported)
	}
	for _, l := range pn.Links() {
		if err := d.stat(ctx, l.Cid, inFile, depth+1, st, seen, b); err != nil {
			return err
		}
	}
	return nil
}
