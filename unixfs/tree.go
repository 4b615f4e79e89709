package unixfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/ipfs/boxo/ipld/merkledag"
	ufs "github.com/ipfs/boxo/ipld/unixfs"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

// ErrUnsupported is returned for an entry a tree may not hold: a symbolic
// link, a device, a fifo, a socket (when adding), or a name that could
// leave the directory it is written to (when exporting). The error names
// the path.
var ErrUnsupported = errors.New("not a regular file or directory with a plain name")

// AddTree imports the directory dir, without following any link (every
// path is resolved beneath dir: os.Root), and returns its CID. Entries go
// in name order; files and directories keep no mode or time (as kubo's
// add without --preserve-mode and --preserve-mtime).
func (d *DAG) AddTree(ctx context.Context, dir string) (cid.Cid, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return cid.Undef, fmt.Errorf("unixfs: %w", err)
	}
	defer root.Close()
	dag := d.batch(ctx)
	n, err := addDir(ctx, dag, root, ".")
	if err == nil {
		err = dag.Commit()
	}
	if err != nil {
		return cid.Undef, err
	}
	return n.Cid(), nil
}

// addDir imports directory p beneath root into dag.
func addDir(ctx context.Context, dag ipld.DAGService, root *os.Root, p string) (ipld.Node, error) {
	ents, err := fs.ReadDir(root.FS(), p)
	if err != nil {
		return nil, fmt.Errorf("unixfs: %w", err)
	}
	dir, err := newDirectory(dag)
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		child := path.Join(p, e.Name())
		info, err := root.Lstat(child)
		if err != nil {
			return nil, fmt.Errorf("unixfs: %w", err)
		}
		var n ipld.Node
		switch {
		case info.IsDir():
			n, err = addDir(ctx, dag, root, child)
		case info.Mode().IsRegular():
			n, err = addTreeFile(ctx, dag, root, child)
		default:
			return nil, fmt.Errorf("unixfs: %s: a %v: %w", child, info.Mode().Type(), ErrUnsupported)
		}
		if err != nil {
			return nil, err
		}
		if err := dir.AddChild(ctx, e.Name(), n); err != nil {
			return nil, fmt.Errorf("unixfs: %s: %w", child, err)
		}
	}
	n, err := dir.GetNode()
	if err != nil {
		return nil, fmt.Errorf("unixfs: %s: %w", p, err)
	}
	if err := dag.Add(ctx, n); err != nil {
		return nil, fmt.Errorf("unixfs: %s: %w", p, err)
	}
	return n, nil
}

// addTreeFile imports the regular file p beneath root; its type is checked
// again once it is open (it may have been swapped after Lstat).
func addTreeFile(ctx context.Context, dag ipld.DAGService, root *os.Root, p string) (ipld.Node, error) {
	f, err := root.Open(p)
	if err != nil {
		return nil, fmt.Errorf("unixfs: %w", err)
	}
	defer f.Close()
	if info, err := f.Stat(); err != nil || !info.Mode().IsRegular() {
		return nil, fmt.Errorf("unixfs: %s: no longer a regular file: %w", p, ErrUnsupported)
	}
	n, _, err := addFile(ctx, dag, f)
	if err != nil {
		return nil, fmt.Errorf("unixfs: %s: %w", p, err)
	}
	return n, nil
}

// Export writes the file or tree c at target, which must not exist: a file
// is written a block at a time, a tree's entries beneath target only
// (os.Root; a name that is empty, ".", "..", or holds a "/" or a NUL is
// refused with ErrUnsupported, as is a symbolic link).
func (d *DAG) Export(ctx context.Context, c cid.Cid, target string) error {
	n, err := d.dag.Get(ctx, c)
	if err != nil {
		return fmt.Errorf("unixfs: %s: %w", c, err)
	}
	if !isDir(n) {
		f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return fmt.Errorf("unixfs: %w", err)
		}
		return d.writeFile(ctx, n, f, target)
	}
	if err := os.Mkdir(target, 0o755); err != nil {
		return fmt.Errorf("unixfs: %w", err)
	}
	root, err := os.OpenRoot(target)
	if err != nil {
		return fmt.Errorf("unixfs: %w", err)
	}
	defer root.Close()
	return d.exportDir(ctx, root, ".", n)
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

// exportDir writes directory node n's entries into p beneath root.
func (d *DAG) exportDir(ctx context.Context, root *os.Root, p string, n ipld.Node) error {
	dir, err := uio.NewDirectoryFromNode(d.dag, n)
	if err != nil {
		return fmt.Errorf("unixfs: %s: %w", p, err)
	}
	return dir.ForEachLink(ctx, func(l *ipld.Link) error {
		if l.Name == "" || l.Name == "." || l.Name == ".." || strings.ContainsAny(l.Name, "/\x00") {
			return fmt.Errorf("unixfs: %s: an entry named %q: %w", p, l.Name, ErrUnsupported)
		}
		child := path.Join(p, l.Name)
		cn, err := l.GetNode(ctx, d.dag)
		if err != nil {
			return fmt.Errorf("unixfs: %s: %w", child, err)
		}
		if isDir(cn) {
			if err := root.Mkdir(child, 0o755); err != nil {
				return fmt.Errorf("unixfs: %w", err)
			}
			return d.exportDir(ctx, root, child, cn)
		}
		f, err := root.OpenFile(child, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return fmt.Errorf("unixfs: %w", err)
		}
		return d.writeFile(ctx, cn, f, child)
	})
}

// writeFile writes file node n to f, and closes f.
func (d *DAG) writeFile(ctx context.Context, n ipld.Node, f *os.File, name string) error {
	r, err := uio.NewDagReader(ctx, n, d.dag)
	if err == nil {
		_, err = io.Copy(f, r)
		r.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, uio.ErrCantReadSymlinks) {
		return fmt.Errorf("unixfs: %s: a symbolic link: %w", name, ErrUnsupported)
	}
	if err != nil {
		return fmt.Errorf("unixfs: %s: %w", name, err)
	}
	return nil
}
