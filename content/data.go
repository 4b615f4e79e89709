package content

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/store"
	"github.com/libp2p/go-libp2p/core/peer"
)

// ErrOutputsOverLimit means a job left more in /outputs than it may: the
// run is charged, its outputs are not kept.
var ErrOutputsOverLimit = errors.New("outputs over the limit")

// InputBlobs returns every blob CID the inputs consist of (manifests and
// their entries), all of which the store must hold, and checks that they
// are within the inputs limit (InputsBudget).
func (c *Content) InputBlobs(inputs []job.Input) ([]string, error) {
	var out []string
	for _, in := range inputs {
		if in.URL != "" {
			continue // the provider fetches it (urlinput.go)
		}
		id, err := job.ParseCID(in.CID)
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", in.Name, err)
		}
		if !c.store.Has(id) {
			return nil, fmt.Errorf("input %s: %s is not in this node's store (meshnode add it first)", in.Name, id)
		}
		out = append(out, id.String())
		if id.Type() != job.CodecJSON {
			continue
		}
		m, err := c.store.Manifest(id)
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", in.Name, err)
		}
		for _, e := range m.Entries {
			ec, err := job.ParseCID(e.CID)
			if err != nil || !c.store.Has(ec) {
				return nil, fmt.Errorf("input %s: %s (%s) is not in this node's store", in.Name, e.CID, e.Path)
			}
			out = append(out, e.CID)
		}
	}
	bytes, files, err := c.InputsSize(inputs)
	if err != nil {
		return nil, fmt.Errorf("inputs: %w", err)
	}
	if err := InputsBudget().Take(bytes, files); err != nil {
		return nil, fmt.Errorf("inputs: %w", err)
	}
	return out, nil
}

// StageInputs fetches a job's inputs from its client (or, for URL inputs,
// from their URLs: urlinput.go) and lays them out under dir as the guest
// will see them at /inputs.
func (c *Content) StageInputs(ctx context.Context, client peer.ID, inputs []job.Input, dir string) error {
	budget := InputsBudget()
	for _, in := range inputs {
		if in.URL != "" {
			if err := c.fetchURL(ctx, in, dir, budget); err != nil {
				return fmt.Errorf("input %s: %w", in.Name, err)
			}
			continue
		}
		m, err := c.FetchTree(ctx, client, in.CID, budget)
		if err != nil {
			return fmt.Errorf("input %s: %w", in.Name, err)
		}
		if m != nil {
			if err := c.store.Export(m, filepath.Join(dir, in.Name)); err != nil {
				return fmt.Errorf("input %s: %w", in.Name, err)
			}
			continue
		}
		id, _ := job.ParseCID(in.CID)
		b, err := c.store.Get(id)
		if err != nil {
			return fmt.Errorf("input %s: %w", in.Name, err)
		}
		if err := store.WriteFileIn(dir, in.Name, b, 0o444); err != nil {
			return fmt.Errorf("input %s: %w", in.Name, err)
		}
	}
	return nil
}

// CollectOutputs stores what the job left in dir and returns the manifest's
// CID and every blob CID of it ("" when the job left nothing). disk is the
// storage the job reserved (0: the default limit). Outputs over it, or over
// MaxOutputFiles files and directories, are refused (ErrOutputsOverLimit)
// before anything is stored; the walk never follows a link.
func (c *Content) CollectOutputs(dir string, disk uint64) (string, []string, error) {
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
	id, m, err := c.store.AddDir(dir)
	if err != nil {
		return "", nil, err
	}
	blobs := []string{id.String()}
	for _, e := range m.Entries {
		blobs = append(blobs, e.CID)
	}
	return id.String(), blobs, nil
}
