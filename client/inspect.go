package client

import (
	"context"
	"crypto/rand"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/scheduler"
	"github.com/libp2p/go-libp2p/core/peer"
)

// What follows looks into a client from outside (the node's tests drive
// single steps of a job with it).

// CachedRecord is the capacity record of p the client holds in its cache
// (nil for none).
func (c *Client) CachedRecord(p peer.ID) *job.Capacity {
	c.cands.mu.Lock()
	defer c.cands.mu.Unlock()
	return c.cands.records[p].rec
}

// Score is a provider's score from this client's own history of it (not
// counting the ledger's receipts), and whether it has any.
func (c *Client) Score(provider string) (float64, bool) { return c.reps.Score(provider) }

// Auction runs one auction round for sub and awards nothing: the job's ID
// and nonce, and the feasible bids, best first. The module stays pinned in
// the client's blob cache for the bidders to fetch.
func (c *Client) Auction(ctx context.Context, sub Submission) (id string, nonce []byte, ranked []scheduler.Option, err error) {
	if err := c.checkSubmission(&sub); err != nil {
		return "", nil, nil, err
	}
	nonce = make([]byte, 16)
	_, _ = rand.Read(nonce)
	t := &ticket{id: job.NewID(sub.Spec, c.mesh.ID().String(), nonce).String(), nonce: nonce, sub: sub, start: c.now()}
	if sub.Spec.Module != "" {
		c.blobs.Put(sub.Spec.Module, sub.Module, true)
	}
	r, err := c.auction(ctx, t, &job.Outcome{}, func(job.Event) {})
	if err != nil {
		return "", nil, nil, err
	}
	return t.id, nonce, r.ev.Ranked, nil
}

// Settle turns a provider's result for a job with spec s into out, as at
// the end of an attempt: the charge, the output, the outputs fetched, the
// state.
func (c *Client) Settle(ctx context.Context, s *job.Spec, provider string, res *job.Result, out *job.Outcome) {
	c.settle(ctx, s, provider, res, out)
}
