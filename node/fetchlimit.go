package node

import (
	"context"
	"errors"
	"fmt"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/store"
	"github.com/libp2p/go-libp2p/core/peer"
)

// What a provider fetches for one job's inputs, all inputs together: a
// client's submission over it is refused before it is published, and a
// provider stops fetching at it.
const (
	MaxInputBytes = 1 << 30
	MaxInputFiles = 4 * store.MaxEntries
)

// errOverBudget means a tree a peer offered is larger than what the fetch
// allows (the job's reserved disk for outputs, MaxInputBytes for inputs).
var errOverBudget = errors.New("over the limit")

// fetchBudget is what one job's fetches may still bring in: bytes of files
// and files. It is not safe for concurrent use.
type fetchBudget struct {
	bytes int64
	files int
	limit string // names the limit, for errors
}

// outputsBudget is what a client fetches of the outputs of a job that
// reserved disk bytes (0: none): outputLimit and MaxOutputFiles.
func outputsBudget(disk uint64) *fetchBudget {
	return &fetchBudget{
		bytes: outputLimit(disk), files: MaxOutputFiles,
		limit: fmt.Sprintf("what the job reserved (resources.disk %s, at most %d files)", job.FormatSize(uint64(outputLimit(disk))), MaxOutputFiles),
	}
}

// inputsBudget is what a provider fetches of one job's inputs.
func inputsBudget() *fetchBudget {
	return &fetchBudget{
		bytes: MaxInputBytes, files: MaxInputFiles,
		limit: fmt.Sprintf("the inputs limit (%s, %d files)", job.FormatSize(MaxInputBytes), MaxInputFiles),
	}
}

// take spends bytes and files of b, or fails (spending nothing) when they
// are more than what is left.
func (b *fetchBudget) take(bytes int64, files int) error {
	if bytes < 0 || bytes > b.bytes || files > b.files {
		return fmt.Errorf("%w: %d files of %s, more than %s allows", errOverBudget, files, job.FormatSize(uint64(max(bytes, 0))), b.limit)
	}
	b.bytes -= bytes
	b.files -= files
	return nil
}

// fetchTree fetches the blob c (and, for a manifest, every blob it names)
// from p into the store, verifying each against its CID, within budget: a
// manifest whose files are over it is refused before any of them is
// fetched (and is not kept), a file is fetched up to the size its manifest
// declares, and a single file up to what the budget has left. Blobs the
// store holds already are not fetched but count. It returns the manifest
// (nil for a single file).
func (n *Node) fetchTree(ctx context.Context, p peer.ID, c string, budget *fetchBudget) (*store.Manifest, error) {
	id, err := job.ParseCID(c)
	if err != nil {
		return nil, err
	}
	if id.Type() != job.CodecJSON {
		if size, err := n.store.Size(id); err == nil {
			return nil, budget.take(size, 1)
		}
		// At least 1: a max of 0 would mean MaxBlob.
		b, err := n.mesh.FetchBlob(ctx, p, c, max(min(budget.bytes, store.MaxBlob), 1))
		if err != nil {
			return nil, err
		}
		if err := budget.take(int64(len(b)), 1); err != nil {
			return nil, err
		}
		_, err = n.store.Put(b, id.Type())
		return nil, err
	}
	m, err := n.store.Manifest(id)
	if err != nil {
		if m, err = n.fetchManifest(ctx, p, c, budget); err != nil {
			return nil, err
		}
	} else if err := budget.take(m.Size(), len(m.Entries)); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", c, err)
	}
	for _, e := range m.Entries {
		if err := n.fetchEntry(ctx, p, e); err != nil {
			return nil, fmt.Errorf("%s: %w", e.Path, err)
		}
	}
	return m, nil
}

// fetchManifest fetches the manifest c from p and keeps it when its files
// are within budget (which it spends on them).
func (n *Node) fetchManifest(ctx context.Context, p peer.ID, c string, budget *fetchBudget) (*store.Manifest, error) {
	b, err := n.mesh.FetchBlob(ctx, p, c, store.MaxManifest)
	if err != nil {
		return nil, err
	}
	m := new(store.Manifest)
	if err := job.Decode(b, store.MaxManifest, m); err != nil {
		return nil, fmt.Errorf("manifest %s from %s: %w", c, p, err)
	}
	if err := budget.take(m.Size(), len(m.Entries)); err != nil {
		return nil, fmt.Errorf("manifest %s from %s: %w", c, p, err)
	}
	if _, err := n.store.Put(b, job.CodecJSON); err != nil {
		return nil, err
	}
	return m, nil
}

// fetchEntry fetches one file of a manifest, refusing more bytes than the
// manifest declares for it.
func (n *Node) fetchEntry(ctx context.Context, p peer.ID, e store.Entry) error {
	want, err := job.ParseCID(e.CID)
	if err != nil {
		return err
	}
	if n.store.Has(want) {
		return nil
	}
	b, err := n.mesh.FetchBlob(ctx, p, e.CID, max(e.Size, 1))
	if err != nil {
		return err
	}
	if int64(len(b)) != e.Size {
		return fmt.Errorf("%s from %s: %d bytes, but its manifest declares %d", e.CID, p, len(b), e.Size)
	}
	_, err = n.store.Put(b, 0x55)
	return err
}

// inputsSize is the bytes and files of inputs held in the store.
func (n *Node) inputsSize(inputs []job.Input) (int64, int, error) {
	var bytes int64
	var files int
	for _, in := range inputs {
		c, err := job.ParseCID(in.CID)
		if err != nil {
			return 0, 0, err
		}
		if c.Type() != job.CodecJSON {
			size, err := n.store.Size(c)
			if err != nil {
				return 0, 0, err
			}
			bytes, files = bytes+size, files+1
			continue
		}
		m, err := n.store.Manifest(c)
		if err != nil {
			return 0, 0, err
		}
		bytes, files = bytes+m.Size(), files+len(m.Entries)
	}
	return bytes, files, nil
}
