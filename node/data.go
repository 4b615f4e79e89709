package node

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/store"
	"github.com/libp2p/go-libp2p/core/peer"
)

// MaxOutputs bounds what a job may leave in /outputs (files, total bytes).
const (
	MaxOutputFiles = 1024
	MaxOutputBytes = 256 << 20
)

// outputLimit is the most bytes a job that reserved disk (0: none) may leave
// in /outputs: the reservation, at most MaxOutputBytes.
func outputLimit(disk uint64) int64 {
	if disk > 0 && disk < MaxOutputBytes {
		return int64(disk)
	}
	return MaxOutputBytes
}

// inputBlobs returns every blob CID the inputs consist of (manifests and
// their entries), all of which this node must hold.
func (n *Node) inputBlobs(inputs []job.Input) ([]string, error) {
	var out []string
	for _, in := range inputs {
		c, err := job.ParseCID(in.CID)
		if err != nil {
			return nil, fmt.Errorf("%w: input %s: %v", ErrBadSubmission, in.Name, err)
		}
		if !n.store.Has(c) {
			return nil, fmt.Errorf("%w: input %s: %s is not in this node's store (meshnode add it first)", ErrBadSubmission, in.Name, c)
		}
		out = append(out, c.String())
		if c.Type() == job.CodecJSON {
			m, err := n.store.Manifest(c)
			if err != nil {
				return nil, fmt.Errorf("%w: input %s: %v", ErrBadSubmission, in.Name, err)
			}
			for _, e := range m.Entries {
				ec, err := job.ParseCID(e.CID)
				if err != nil || !n.store.Has(ec) {
					return nil, fmt.Errorf("%w: input %s: %s (%s) is not in this node's store", ErrBadSubmission, in.Name, e.CID, e.Path)
				}
				out = append(out, e.CID)
			}
		}
	}
	bytes, files, err := n.inputsSize(inputs)
	if err != nil {
		return nil, fmt.Errorf("%w: inputs: %v", ErrBadSubmission, err)
	}
	if err := inputsBudget().take(bytes, files); err != nil {
		return nil, fmt.Errorf("%w: inputs: %v", ErrBadSubmission, err)
	}
	return out, nil
}

// stageInputs fetches a job's inputs from its client and lays them out
// under dir as the guest will see them at /inputs.
func (n *Node) stageInputs(ctx context.Context, client peer.ID, inputs []job.Input, dir string) error {
	budget := inputsBudget()
	for _, in := range inputs {
		m, err := n.fetchTree(ctx, client, in.CID, budget)
		if err != nil {
			return fmt.Errorf("input %s: %w", in.Name, err)
		}
		if m != nil {
			if err := n.store.Export(m, filepath.Join(dir, in.Name)); err != nil {
				return fmt.Errorf("input %s: %w", in.Name, err)
			}
			continue
		}
		id, _ := job.ParseCID(in.CID)
		b, err := n.store.Get(id)
		if err != nil {
			return fmt.Errorf("input %s: %w", in.Name, err)
		}
		if err := store.WriteFileIn(dir, in.Name, b, 0o444); err != nil {
			return fmt.Errorf("input %s: %w", in.Name, err)
		}
	}
	return nil
}

// errOutputsOverLimit means a job left more in /outputs than it may: the
// run is charged, its outputs are not kept.
var errOutputsOverLimit = errors.New("outputs over the limit")

// collectOutputs stores what the job left in dir and returns the manifest's
// CID and every blob CID of it ("" when the job left nothing). disk is the
// storage the job reserved (0: the default limit). Outputs over it, or over
// MaxOutputFiles files and directories, are refused (errOutputsOverLimit)
// before anything is stored; the walk never follows a link.
func (n *Node) collectOutputs(dir string, disk uint64) (string, []string, error) {
	limit := outputLimit(disk)
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
		return "", nil, fmt.Errorf("%w: more than %d files or %d bytes (resources.disk or the provider's limit)", errOutputsOverLimit, MaxOutputFiles, limit)
	}
	c, m, err := n.store.AddDir(dir)
	if err != nil {
		return "", nil, err
	}
	blobs := []string{c.String()}
	for _, e := range m.Entries {
		blobs = append(blobs, e.CID)
	}
	return c.String(), blobs, nil
}

// workDirs creates a run's inputs and outputs directories; cleanup removes
// them.
func (n *Node) workDirs() (in, out string, cleanup func(), err error) {
	base := ""
	if n.cfg.DataDir != "" {
		base = filepath.Join(n.cfg.DataDir, "runs")
		if err := os.MkdirAll(base, 0o700); err != nil {
			return "", "", nil, err
		}
	}
	root, err := os.MkdirTemp(base, "run-")
	if err != nil {
		return "", "", nil, err
	}
	in, out = filepath.Join(root, "inputs"), filepath.Join(root, "outputs")
	for _, d := range []string{in, out} {
		if err := os.Mkdir(d, 0o700); err != nil {
			os.RemoveAll(root)
			return "", "", nil, err
		}
	}
	return in, out, func() { os.RemoveAll(root) }, nil
}
