package node

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/ipfs/go-cid"
)

// inputLookup bounds how long a submission looks on the mesh's DHT for a
// node that announces an input this node does not hold.
const inputLookup = 10 * time.Second

// locateInputs settles where the inputs named by a bare CID come from.
// One in this node's store comes from this node, as always. One it lacks
// becomes an input from IPFS (job.SourceIPFS: the provider fetches it over
// Bitswap from whoever holds it) when a mesh node announces it on the DHT
// — another client's or a provider's published outputs; the submission is
// refused when none does (most often a typo, which providers would
// otherwise look for one after another), or when the job has a region
// constraint: the look-up, like Bitswap's, asks peers in any region. The
// caller's spec is not changed: sub gets a copy.
func (n *Node) locateInputs(ctx context.Context, sub *Submission) error {
	if sub.Spec == nil {
		return nil // checkSubmission says so
	}
	var spec *job.Spec
	for i, in := range sub.Spec.Inputs {
		if in.URL != "" || in.Source != job.SourceClient {
			continue
		}
		c, err := job.ParseCID(in.CID)
		if err != nil || n.store.Has(c) {
			continue // from this node (a bad CID: checkSubmission says so)
		}
		if s := sub.Spec; (s.Region != "" && s.Region != "*") || len(s.NotRegions) > 0 {
			return fmt.Errorf("%w: inputs[%d] (%s): %s is not in this node's store, and a job with region or not_regions takes its inputs from its client alone (looking for a holder would ask peers in any region): meshnode add it first",
				ErrBadSubmission, i, in.Name, c)
		}
		held, err := n.announced(ctx, c)
		if err != nil {
			return err
		}
		if !held {
			return fmt.Errorf("%w: inputs[%d] (%s): %s is not in this node's store, and no mesh node announced it within %v: meshnode add it first, or give ipfs://%s for content that an IPFS peer of the providers holds",
				ErrBadSubmission, i, in.Name, c, inputLookup, c)
		}
		if spec == nil {
			cp := *sub.Spec
			cp.Inputs = slices.Clone(cp.Inputs)
			spec = &cp
		}
		spec.Inputs[i].Source = job.SourceIPFS
		log.Infow("input not held here: fetched from the mesh's holders", "input", in.Name, "cid", c)
	}
	if spec != nil {
		sub.Spec = spec
	}
	return nil
}

// announced reports whether a mesh node other than this one announces c
// on the DHT, looking again until inputLookup has passed (an
// announcement made a moment ago may not have reached the DHT yet).
func (n *Node) announced(ctx context.Context, c cid.Cid) (bool, error) {
	lctx, cancel := context.WithTimeout(ctx, inputLookup)
	defer cancel()
	for {
		for ai := range n.mesh.DHT().FindProvidersAsync(lctx, c, 0) {
			if ai.ID != n.ID() {
				return true, nil
			}
		}
		select {
		case <-lctx.Done():
			return false, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}
