package store

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"syscall"
)

// ErrNotCollectable is what a tree with something other than directories
// and regular files with one link fails with: a symbolic link, a device, a
// fifo or a socket, or a file with several hard links (it may be a host
// file linked in). The error names the path.
var ErrNotCollectable = errors.New("not collectable (only directories and regular files with one link are)")

// TreeFile is a regular file of a tree, relative to its root.
type TreeFile struct {
	Path string // slash-separated
	Size int64
}

// WalkTree lists the regular files under dir without following any link:
// every path is resolved beneath dir (os.Root), and an entry that is not a
// directory or a regular file with one link fails the walk with
// ErrNotCollectable, naming it.
func WalkTree(dir string) ([]TreeFile, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	var files []TreeFile
	err = fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		info, err := root.Lstat(p)
		if err != nil {
			return err
		}
		if err := collectable(p, info); err != nil {
			return err
		}
		files = append(files, TreeFile{Path: p, Size: info.Size()})
		return nil
	})
	return files, err
}

// collectable refuses what is not a regular file with one link.
func collectable(p string, info fs.FileInfo) error {
	switch t := info.Mode().Type(); {
	case t&fs.ModeSymlink != 0:
		return fmt.Errorf("%s: a symbolic link: %w", p, ErrNotCollectable)
	case !info.Mode().IsRegular():
		return fmt.Errorf("%s: a special file (%v): %w", p, t, ErrNotCollectable)
	}
	if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
		return fmt.Errorf("%s: a file with %d hard links: %w", p, st.Nlink, ErrNotCollectable)
	}
	return nil
}

// readTreeFile reads the regular file p beneath root, refusing it if it is
// (or was swapped for) anything else, or grew past MaxBlob.
func readTreeFile(root *os.Root, p string) ([]byte, error) {
	before, err := root.Lstat(p)
	if err != nil {
		return nil, err
	}
	if err := collectable(p, before); err != nil {
		return nil, err
	}
	// O_NONBLOCK: a fifo swapped in does not block the open.
	f, err := root.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !os.SameFile(before, info) {
		return nil, fmt.Errorf("%s: changed while read: %w", p, ErrNotCollectable)
	}
	if err := collectable(p, info); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxBlob+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxBlob {
		return nil, fmt.Errorf("%s: over %d bytes", p, MaxBlob)
	}
	return b, nil
}

// writeTreeFile writes b to p beneath root (making its directories) without
// writing through a link: it writes a new file and renames it over p, which
// replaces a link or file there rather than following it.
func writeTreeFile(root *os.Root, p string, b []byte, perm fs.FileMode) error {
	if dir := path.Dir(p); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	tmp := path.Join(path.Dir(p), ".export-"+path.Base(p))
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = root.Rename(tmp, p)
	}
	if err != nil {
		root.Remove(tmp)
	}
	return err
}
