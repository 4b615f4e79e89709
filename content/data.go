package content

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/ipfs/go-cid"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/store"
	"github.com/libp2p/go-libp2p/core/peer"
)

// ErrOutputsOverLimit means a job left more in /outputs than it may: the
// run is charged, its outputs are not kept.
var ErrOutputsOverLimit = errors.New("outputs over the limit")

// InputBlobs returns every blob CID the inputs consist of (a UnixFS file's
// or tree's blocks; a manifest of the earlier format and its files), all
// of which the store must hold, and checks that they are within the inputs
// limit (InputsBudget).
func (c *Content) InputBlobs(inputs []job.Input) ([]string, error) {
	var out []string
	budget := InputsBudget()
	for _, in := range inputs {
		if in.URL != "" || in.Source == job.SourceIPFS {
			continue // the provider fetches it (urlinput.go, ipfs.go)
		}
		id, err := job.ParseCID(in.CID)
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", in.Name, err)
		}
		if !c.store.Has(id) {
			return nil, fmt.Errorf("input %s: %s is not in this node's store (meshnode add it first)", in.Name, id)
		}
		if id.Type() == job.CodecJSON {
			blobs, err := c.manifestBlobs(in, id, budget)
			if err != nil {
				return nil, err
			}
			out = append(out, blobs...)
			continue
		}
		st, err := c.Stat(context.Background(), id, budget)
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", in.Name, err)
		}
		if err := budget.Take(max(st.Bytes, st.BlockBytes), st.Files); err != nil { // as the provider counts it
			return nil, fmt.Errorf("inputs: %w", err)
		}
		for _, b := range st.Blocks {
			out = append(out, b.String())
		}
	}
	return out, nil
}

// manifestBlobs is InputBlobs of an input given as a manifest of the
// earlier format.
func (c *Content) manifestBlobs(in job.Input, id cid.Cid, budget *Budget) ([]string, error) {
	m, err := c.store.Manifest(id)
	if err != nil {
		return nil, fmt.Errorf("input %s: %w", in.Name, err)
	}
	out := []string{id.String()}
	for _, e := range m.Entries {
		ec, err := job.ParseCID(e.CID)
		if err != nil || !c.store.Has(ec) {
			return nil, fmt.Errorf("input %s: %s (%s) is not in this node's store", in.Name, e.CID, e.Path)
		}
		out = append(out, e.CID)
	}
	if err := budget.Take(m.Size(), len(m.Entries)); err != nil {
		return nil, fmt.Errorf("inputs: %w", err)
	}
	return out, nil
}

// StageInputs fetches a job's inputs from its client (or, for URL inputs,
// from their URLs: urlinput.go; for IPFS inputs, from whichever peer holds
// them: ipfs.go) and lays them out under dir as the guest will see them
// at /inputs, within the node's inputs budget: a file or tree a block at a
// time, never whole in memory. They are fetched into a store of their own
// (beside the node's, removed once they are laid out), every block from
// the peer: a job naming a CID gets what its client (or IPFS) has, never
// a block this node holds for someone else (another client's inputs or
// outputs, whose CID a hostile client may have learnt).
func (c *Content) StageInputs(ctx context.Context, client peer.ID, inputs []job.Input, dir string) error {
	s, done, err := c.staging()
	if err != nil {
		return err
	}
	defer done()
	own := New(s, c.fetch, WithIPFS(c.ipfs), WithIPFSStall(c.ipfsStall))
	own.urlInputs, own.anyAddr, own.urlAllow, own.parent = c.urlInputs, c.anyAddr, c.urlAllow, c
	budget := inputsBudget(c.inputLimit)
	for _, in := range inputs {
		if err := own.stageInput(ctx, client, in, dir, budget); err != nil {
			return fmt.Errorf("input %s: %w", in.Name, err)
		}
	}
	return nil
}

// stageInput lays out one input under dir (see StageInputs; c is the
// job's own content, on its own store).
func (c *Content) stageInput(ctx context.Context, client peer.ID, in job.Input, dir string, budget *Budget) error {
	if in.URL != "" {
		return c.fetchURL(ctx, in, dir, budget)
	}
	if err := store.CheckPath(in.Name); err != nil {
		return err
	}
	if in.Source == job.SourceIPFS {
		return c.fetchIPFS(ctx, in, dir, budget)
	}
	id, err := job.ParseCID(in.CID)
	if err != nil {
		return err
	}
	// What the export may write: what the fetch left of the budget and
	// what this input took of it.
	before := *budget
	if err := c.Fetch(ctx, client, in.CID, budget); err != nil {
		return err
	}
	return c.Export(ctx, id, filepath.Join(dir, filepath.FromSlash(in.Name)), &before)
}

// CollectOutputs stores what the job left in dir as a UnixFS tree and
// returns its CID and every block CID of it ("" when the job left
// nothing). disk is the storage the job reserved (0: the default limit).
// Outputs over it, or over MaxOutputFiles files and directories, are
// refused (ErrOutputsOverLimit) before anything is stored; the walk never
// follows a link.
func (c *Content) CollectOutputs(ctx context.Context, dir string, disk uint64) (string, []string, error) {
	limit := OutputLimit(disk)
	// No link is followed and none is collected: see store.WalkTree.
	files, err := store.WalkTree(dir)
	if err != nil || len(files) == 0 {
		return "", nil, err
	}
	var size int64
	for _, f := range files {
		size += f.Size
	}
	if len(files) > MaxOutputFiles || size > limit {
		return "", nil, fmt.Errorf("%w: more than %d files or %d bytes (resources.disk or the provider's limit)", ErrOutputsOverLimit, MaxOutputFiles, limit)
	}
	id, err := c.Add(ctx, dir)
	if err != nil {
		return "", nil, err
	}
	st, err := c.Stat(ctx, id, OutputsBudget(disk))
	if err != nil {
		return "", nil, err
	}
	blobs := make([]string, 0, len(st.Blocks))
	for _, b := range st.Blocks {
		blobs = append(blobs, b.String())
	}
	return id.String(), blobs, nil
}
