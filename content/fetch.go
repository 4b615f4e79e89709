package content

import (
	"context"
	"fmt"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/store"
	"github.com/libp2p/go-libp2p/core/peer"
)

// FetchTree fetches the blob id (and, for a manifest, every blob it names)
// from p into the store, verifying each against its CID, within budget: a
// manifest whose files are over it is refused before any of them is
// fetched (and is not kept), a file is fetched up to the size its manifest
// declares, and a single file up to what the budget has left. Blobs the
// store holds already are not fetched but count. It returns the manifest
// (nil for a single file).
func (c *Content) FetchTree(ctx context.Context, p peer.ID, id string, budget *Budget) (*store.Manifest, error) {
	cid, err := job.ParseCID(id)
	if err != nil {
		return nil, err
	}
	if cid.Type() != job.CodecJSON {
		if size, err := c.store.Size(cid); err == nil {
			return nil, budget.Take(size, 1)
		}
		// At least 1: a max of 0 would mean MaxBlob.
		b, err := c.fetch.FetchBlob(ctx, p, id, max(min(budget.bytes, store.MaxBlob), 1))
		if err != nil {
			return nil, err
		}
		if err := budget.Take(int64(len(b)), 1); err != nil {
			return nil, err
		}
		_, err = c.store.Put(b, cid.Type())
		return nil, err
	}
	m, err := c.store.Manifest(cid)
	if err != nil {
		if m, err = c.fetchManifest(ctx, p, id, budget); err != nil {
			return nil, err
		}
	} else if err := budget.Take(m.Size(), len(m.Entries)); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", id, err)
	}
	for _, e := range m.Entries {
		if err := c.fetchEntry(ctx, p, e); err != nil {
			return nil, fmt.Errorf("%s: %w", e.Path, err)
		}
	}
	return m, nil
}

// fetchManifest fetches the manifest id from p and keeps it when its files
// are within budget (which it spends on them).
func (c *Content) fetchManifest(ctx context.Context, p peer.ID, id string, budget *Budget) (*store.Manifest, error) {
	b, err := c.fetch.FetchBlob(ctx, p, id, store.MaxManifest)
	if err != nil {
		return nil, err
	}
	m := new(store.Manifest)
	if err := job.Decode(b, store.MaxManifest, m); err != nil {
		return nil, fmt.Errorf("manifest %s from %s: %w", id, p, err)
	}
	if err := budget.Take(m.Size(), len(m.Entries)); err != nil {
		return nil, fmt.Errorf("manifest %s from %s: %w", id, p, err)
	}
	if _, err := c.store.Put(b, job.CodecJSON); err != nil {
		return nil, err
	}
	return m, nil
}

// fetchEntry fetches one file of a manifest, refusing more bytes than the
// manifest declares for it.
func (c *Content) fetchEntry(ctx context.Context, p peer.ID, e store.Entry) error {
	want, err := job.ParseCID(e.CID)
	if err != nil {
		return err
	}
	if c.store.Has(want) {
		return nil
	}
	b, err := c.fetch.FetchBlob(ctx, p, e.CID, max(e.Size, 1))
	if err != nil {
		return err
	}
	if int64(len(b)) != e.Size {
		return fmt.Errorf("%s from %s: %d bytes, but its manifest declares %d", e.CID, p, len(b), e.Size)
	}
	_, err = c.store.Put(b, 0x55)
	return err
}
