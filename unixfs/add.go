package unixfs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"syscall"

	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

// ErrUnsupported is returned for an entry a tree may not hold: a symbolic
// link, a device, a fifo, a socket, an entry swapped while it was being
// added (when adding), or a name that could leave the directory it is
// written to (when exporting). The error names the path.
var ErrUnsupported = errors.New("not a regular file or directory with a plain name")

// AddTree imports the directory dir and returns its CID. Each directory is
// opened as an os.Root of its own, checked to be the one listed (a
// directory swapped for a link, to its parent say, is refused, not walked
// again), each file opened without following a link or blocking (a fifo
// swapped in is refused, not waited on) and checked the same way. Entries
// go in name order; files and directories keep no mode or time (as kubo's
// add without --preserve-mode and --preserve-mtime).
func (d *DAG) AddTree(ctx context.Context, dir string) (cid.Cid, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return cid.Undef, fmt.Errorf("unixfs: %w", err)
	}
	defer root.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // a failed import's batches stop writing
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

// addDir imports the directory root (at p in the tree) into dag.
func addDir(ctx context.Context, dag ipld.DAGService, root *os.Root, p string) (ipld.Node, error) {
	ents, err := fs.ReadDir(root.FS(), ".")
	if err != nil {
		return nil, fmt.Errorf("unixfs: %s: %w", p, err)
	}
	dir, err := newDirectory(dag)
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		child := path.Join(p, e.Name())
		info, err := root.Lstat(e.Name())
		if err != nil {
			return nil, fmt.Errorf("unixfs: %w", err)
		}
		var n ipld.Node
		switch {
		case info.IsDir():
			n, err = addSubdir(ctx, dag, root, e.Name(), child, info)
		case info.Mode().IsRegular():
			n, err = addTreeFile(ctx, dag, root, e.Name(), child, info)
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

// addSubdir imports the directory name beneath root, which Lstat found
// as info.
func addSubdir(ctx context.Context, dag ipld.DAGService, root *os.Root, name, p string, info fs.FileInfo) (ipld.Node, error) {
	sub, err := root.OpenRoot(name)
	if err != nil {
		return nil, fmt.Errorf("unixfs: %w", err)
	}
	defer sub.Close()
	if now, err := sub.Stat("."); err != nil || !os.SameFile(info, now) {
		return nil, fmt.Errorf("unixfs: %s: swapped while it was being added: %w", p, ErrUnsupported)
	}
	return addDir(ctx, dag, sub, p)
}

// addTreeFile imports the regular file name beneath root, which Lstat
// found as info.
func addTreeFile(ctx context.Context, dag ipld.DAGService, root *os.Root, name, p string, info fs.FileInfo) (ipld.Node, error) {
	f, err := root.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("unixfs: %s: %w", p, err)
	}
	defer f.Close()
	if now, err := f.Stat(); err != nil || !now.Mode().IsRegular() || !os.SameFile(info, now) {
		return nil, fmt.Errorf("unixfs: %s: swapped while it was being added: %w", p, ErrUnsupported)
	}
	n, _, err := addFile(ctx, dag, f)
	if err != nil {
		return nil, fmt.Errorf("unixfs: %s: %w", p, err)
	}
	return n, nil
}
