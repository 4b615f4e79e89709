package unixfs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/ipfs/boxo/ipld/merkledag"
	ufs "github.com/ipfs/boxo/ipld/unixfs"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

// Entry is one entry of a directory, as List gives it.
type Entry struct {
	Name string
	CID  cid.Cid
	Dir  bool
	// Size is a file's size in bytes, or the size of a directory's blocks.
	Size int64
}

// Bounds of what List returns from one directory: entries, and the bytes
// of a name (what file systems allow; export could write no longer one).
const (
	MaxListed = 100_000
	MaxName   = 255
)

// ErrNoPath means a path does not name an entry of the tree.
var ErrNoPath = errors.New("no such path")

// Resolve returns the CID of the entry at path beneath root ("" or "/" is
// root itself), following directory links one name at a time; names that
// export would refuse ("", ".", "..", or holding "/" or NUL) match
// nothing.
func (d *DAG) Resolve(ctx context.Context, root cid.Cid, path string) (cid.Cid, error) {
	c := root
	for _, name := range strings.Split(strings.Trim(path, "/"), "/") {
		if name == "" {
			continue
		}
		if name == "." || name == ".." || strings.ContainsRune(name, 0) {
			return cid.Undef, fmt.Errorf("unixfs: %s: %q: %w", path, name, ErrNoPath)
		}
		n, err := d.dag.Get(ctx, c)
		if err != nil {
			return cid.Undef, fmt.Errorf("unixfs: %s: %w", c, err)
		}
		if !isDir(n) {
			return cid.Undef, fmt.Errorf("unixfs: %s: %s is not a directory: %w", path, c, ErrNoPath)
		}
		dir, err := uio.NewDirectoryFromNode(d.dag, n)
		if err != nil {
			return cid.Undef, fmt.Errorf("unixfs: %s: %w", c, err)
		}
		l, err := dir.Find(ctx, name)
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, merkledag.ErrLinkNotFound) {
			return cid.Undef, fmt.Errorf("unixfs: %s: no entry %q: %w", path, name, ErrNoPath)
		}
		if err != nil {
			return cid.Undef, fmt.Errorf("unixfs: %s: %w", path, err)
		}
		c = l.Cid()
	}
	return c, nil
}

// IsDir reports whether c is a UnixFS directory (plain or sharded).
func (d *DAG) IsDir(ctx context.Context, c cid.Cid) (bool, error) {
	if c.Type() == cid.Raw {
		return false, nil
	}
	n, err := d.dag.Get(ctx, c)
	if err != nil {
		return false, fmt.Errorf("unixfs: %s: %w", c, err)
	}
	return isDir(n), nil
}

// List returns the entries of directory c, at most MaxListed of them
// (more is an error wrapping ErrOverLimit), each with its kind and size.
// An entry named as export would refuse it is an error wrapping
// ErrUnsupported: a hostile tree is refused whole, never shown in part.
func (d *DAG) List(ctx context.Context, c cid.Cid) ([]Entry, error) {
	n, err := d.dag.Get(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("unixfs: %s: %w", c, err)
	}
	if !isDir(n) {
		return nil, fmt.Errorf("unixfs: %s is not a directory: %w", c, ErrNoPath)
	}
	dir, err := uio.NewDirectoryFromNode(d.dag, n)
	if err != nil {
		return nil, fmt.Errorf("unixfs: %s: %w", c, err)
	}
	var out []Entry
	err = dir.ForEachLink(ctx, func(l *ipld.Link) error {
		if l.Name == "" || l.Name == "." || l.Name == ".." || strings.ContainsAny(l.Name, "/\x00") || len(l.Name) > MaxName {
			return fmt.Errorf("unixfs: %s: an entry named %.300q: %w", c, l.Name, ErrUnsupported)
		}
		if len(out) == MaxListed {
			return fmt.Errorf("unixfs: %s: more than %d entries: %w", c, MaxListed, ErrOverLimit)
		}
		e, err := d.entry(ctx, l)
		if err != nil {
			return err
		}
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// entry describes the target of link l.
func (d *DAG) entry(ctx context.Context, l *ipld.Link) (Entry, error) {
	e := Entry{Name: l.Name, CID: l.Cid, Size: int64(l.Size)}
	if l.Cid.Type() == cid.Raw {
		return e, nil
	}
	cn, err := l.GetNode(ctx, d.dag)
	if err != nil {
		return Entry{}, fmt.Errorf("unixfs: %s: %w", l.Name, err)
	}
	pn, ok := cn.(*merkledag.ProtoNode)
	if !ok {
		return e, nil
	}
	fsn, err := ufs.FSNodeFromBytes(pn.Data())
	if err != nil {
		return Entry{}, fmt.Errorf("unixfs: %s: %w", l.Name, err)
	}
	switch fsn.Type() {
	case ufs.TDirectory, ufs.THAMTShard:
		e.Dir = true
	default:
		e.Size = int64(fsn.FileSize())
	}
	return e, nil
}
