package api

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// maxDownloadDepth bounds the directories Download descends.
const maxDownloadDepth = 64

// Download writes the file or tree cid of the node's store to target,
// which must not exist: a file as the file target, a tree as the
// directory target. Entries are written beneath target alone (an
// os.Root), never over anything: names that could lead out of it are
// refused, whatever the node answered. On an error what was written stays
// for the caller to look at or remove.
func (c *Client) Download(ctx context.Context, cid, target string) error {
	if _, err := os.Lstat(target); err == nil {
		return fmt.Errorf("api: download to %s: it exists", target)
	}
	v, err := c.Content(ctx, cid, "")
	if err != nil {
		return err
	}
	// Made and opened beneath its parent's root: a symbolic link swapped
	// in for target meanwhile is not followed.
	parent, err := os.OpenRoot(filepath.Dir(target))
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	defer parent.Close()
	name := filepath.Base(target)
	if v.File != nil {
		defer v.File.Close()
		f, err := parent.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return fmt.Errorf("api: %w", err)
		}
		return copyClose(f, v.File, target)
	}
	if err := parent.Mkdir(name, 0o755); err != nil {
		return fmt.Errorf("api: %w", err)
	}
	root, err := parent.OpenRoot(name)
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	defer root.Close()
	return c.downloadDir(ctx, root, cid, "", v.Listing, 0)
}

// downloadDir writes the entries of listing l (the directory at p) into
// dir.
func (c *Client) downloadDir(ctx context.Context, dir *os.Root, cid, p string, l *ContentListing, depth int) error {
	if depth >= maxDownloadDepth {
		return fmt.Errorf("api: %s: more than %d levels of directories", p, maxDownloadDepth)
	}
	for _, e := range l.Entries {
		if e.Name == "" || e.Name == "." || e.Name == ".." || strings.ContainsAny(e.Name, "/\\\x00") {
			return fmt.Errorf("api: %s: the node listed an entry named %q: refused", p, e.Name)
		}
		child := path.Join(p, e.Name)
		if e.Type != EntryDir {
			if err := c.downloadFile(ctx, dir, e.Name, cid, child); err != nil {
				return err
			}
			continue
		}
		sub, err := c.List(ctx, cid, child)
		if err != nil {
			return err
		}
		if err := dir.Mkdir(e.Name, 0o755); err != nil {
			return fmt.Errorf("api: %w", err)
		}
		subRoot, err := dir.OpenRoot(e.Name)
		if err != nil {
			return fmt.Errorf("api: %w", err)
		}
		err = c.downloadDir(ctx, subRoot, cid, child, sub, depth+1)
		subRoot.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// downloadFile writes the file at p beneath cid as name in dir.
func (c *Client) downloadFile(ctx context.Context, dir *os.Root, name, cid, p string) error {
	r, err := c.Open(ctx, cid, p)
	if err != nil {
		return err
	}
	defer r.Close()
	f, err := dir.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	return copyClose(f, r, path.Join(cid, p))
}

// copyClose copies r into f and closes f.
func copyClose(f *os.File, r io.Reader, what string) error {
	_, err := io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("api: %s: %w", what, err)
	}
	return nil
}
