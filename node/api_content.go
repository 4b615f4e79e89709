package node

import (
	"context"
	"errors"
	"fmt"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/content"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/unixfs"
	ipld "github.com/ipfs/go-ipld-format"
)

// Content serves the node's store to its owner (GET /v1/content/...): the
// directory or file at path beneath root, when the store holds them.
func (b backend) Content(ctx context.Context, root, path string) (*api.Content, error) {
	rc, err := job.ParseCID(root)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", api.ErrNotFound, root, err)
	}
	if !b.n.store.Has(rc) {
		return nil, fmt.Errorf("%w: %s is not in this node's store", api.ErrNotFound, rc)
	}
	// Whole and within the node's limits (what it expands to, not what
	// its blocks weigh: a file node can link one leaf a million times),
	// or not served: a DAG a fetch refused may have left blocks behind.
	if _, err := b.n.content.Stat(ctx, rc, b.n.content.FetchBudget()); err != nil {
		return nil, contentErr(err)
	}
	dag := b.n.content.DAG()
	c, err := dag.Resolve(ctx, rc, path)
	if err != nil {
		return nil, contentErr(err)
	}
	dir, err := dag.IsDir(ctx, c)
	if err != nil {
		return nil, contentErr(err)
	}
	if !dir {
		r, err := dag.Open(ctx, c)
		if err != nil {
			return nil, contentErr(err)
		}
		return &api.Content{File: r}, nil
	}
	entries, err := dag.List(ctx, c)
	if err != nil {
		return nil, contentErr(err)
	}
	l := &api.ContentListing{CID: c.String(), Entries: make([]api.ContentEntry, 0, len(entries))}
	for _, e := range entries {
		t := api.EntryFile
		if e.Dir {
			t = api.EntryDir
		}
		l.Entries = append(l.Entries, api.ContentEntry{Name: e.Name, CID: e.CID.String(), Type: t, Size: e.Size})
	}
	return &api.Content{Listing: l}, nil
}

// contentErr marks a path that names nothing, or a block the store lacks,
// as not found, and a DAG over the node's limits as too large.
func contentErr(err error) error {
	switch {
	case errors.Is(err, unixfs.ErrNoPath) || ipld.IsNotFound(err):
		return fmt.Errorf("%w: %w", api.ErrNotFound, err)
	case errors.Is(err, unixfs.ErrOverLimit) || errors.Is(err, content.ErrOverBudget):
		return fmt.Errorf("%w: %w", api.ErrTooLarge, err)
	}
	return err
}
