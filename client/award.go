package client

import (
	"context"
	"fmt"
	"time"

	"github.com/computemesh/computemesh/award"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/mesh"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// award sends an award to its bidder and waits for the result.
func (c *Client) award(ctx context.Context, a *job.Award, emit func(job.Event)) (*job.Result, error) {
	st, err := c.openAward(ctx, a)
	if err != nil {
		return nil, err
	}
	call, err := award.Request(ctx, st, a, award.HeartbeatTimeout(c.cfg.HeartbeatTimeout),
		award.OnQueued(func(pos int) {
			emit(job.Event{Kind: job.EventQueued, Provider: a.Bid.Provider, Count: pos,
				Message: fmt.Sprintf("queued at position %d", pos)})
		}),
		award.OnAccepted(func(wait time.Duration) {
			c.reps.started(a.Bid.Provider, wait)
			emit(job.Event{Kind: job.EventRunning, Provider: a.Bid.Provider})
		}),
		award.OnLog(func(chunk []byte) {
			emit(job.Event{Kind: job.EventLog, Provider: a.Bid.Provider, Message: string(chunk)})
		}))
	if err != nil {
		return nil, err
	}
	defer call.Close()
	res, err := call.Result()
	if err != nil {
		return nil, err
	}
	limit := a.Bid.Price
	if a.Pay > limit {
		limit = a.Pay
	}
	if res.Charge > limit {
		res.Charge = limit // never pay more than the bid (or the second price)
	}
	if res.Error == "" {
		if err := call.Pay(c.ctx, c.credits, res.Charge); err != nil {
			c.metrics.Unreceipted.Inc()
			c.log.Warnw("no receipt", "job", a.Job, "attempt", a.Attempt, "provider", a.Bid.Provider, "err", err)
		}
	}
	return res, nil
}

// openAward lets the bidder fetch the job's blobs and opens the award
// stream to it.
func (c *Client) openAward(ctx context.Context, a *job.Award) (network.Stream, error) {
	p, err := peer.Decode(a.Bid.Provider)
	if err != nil {
		return nil, fmt.Errorf("bidder ID %q: %w", a.Bid.Provider, err)
	}
	blobs, err := c.content.InputBlobs(a.Spec.Inputs)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSubmission, err)
	}
	if a.Spec.Module != "" {
		blobs = append(blobs, a.Spec.Module)
	}
	// The grant is not withdrawn when this award ends: another job of this
	// client may use the same blobs with the same provider; it expires.
	// A job array's slice may run its tasks one after another.
	c.content.Grant(p, c.now().Add(a.Spec.Timeout()*time.Duration(max(len(a.Tasks), 1))+2*time.Minute), blobs...)
	// A provider behind NAT is reached through its relay when no direct
	// connection exists (the relay's limits bound such a job's data).
	sctx, cancel := context.WithTimeout(mesh.AllowRelayed(ctx), 10*time.Second)
	defer cancel()
	st, err := c.mesh.Host().NewStream(sctx, p, c.mesh.Protocol(award.Protocol))
	if err != nil {
		return nil, fmt.Errorf("opening award stream: %w", err)
	}
	return st, nil
}
