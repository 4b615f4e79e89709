package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

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
	defer st.Close()
	stop := context.AfterFunc(ctx, func() { _ = st.Reset() })
	defer stop()
	// The whole job has its timeout and some slack; within it, a stream
	// silent for the heartbeat timeout means a dead provider.
	end := time.Now().Add(a.Spec.Timeout() + 2*time.Minute)
	_ = st.SetWriteDeadline(end)
	if err := mesh.WriteMsg(st, a); err != nil {
		return nil, fmt.Errorf("sending award: %w", err)
	}
	r := bufio.NewReader(st)
	if err := c.awaitAcceptance(st, r, end, a, emit); err != nil {
		return nil, err
	}
	emit(job.Event{Kind: job.EventRunning, Provider: a.Bid.Provider})
	res, err := c.awaitResult(st, r, end, a, emit)
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
		if err := c.credits.PayReceipt(c.ctx, st, r, a, res.Charge); err != nil {
			c.metrics.Unreceipted.Inc()
			c.log.Warnf("job %s attempt %d: no receipt with %s: %v", a.Job, a.Attempt, a.Bid.Provider, err)
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
	c.content.Grant(p, c.now().Add(a.Spec.Timeout()+2*time.Minute), blobs...)
	// A provider behind NAT is reached through its relay when no direct
	// connection exists (the relay's limits bound such a job's data).
	sctx, cancel := context.WithTimeout(mesh.AllowRelayed(ctx), 10*time.Second)
	defer cancel()
	st, err := c.mesh.Host().NewStream(sctx, p, c.mesh.Protocol("award"))
	if err != nil {
		return nil, fmt.Errorf("opening award stream: %w", err)
	}
	return st, nil
}

// awaitAcceptance reads the provider's answer to the award: queued (with
// heartbeats) until accepted, or declined.
func (c *Client) awaitAcceptance(st network.Stream, r *bufio.Reader, end time.Time, a *job.Award, emit func(job.Event)) error {
	awarded := time.Now()
	var reply job.Reply
	for {
		// Before acceptance the provider is either queueing the job (with
		// heartbeats) or answering at once.
		reply = job.Reply{}
		if err := c.readReply(st, r, end, &reply); err != nil {
			return fmt.Errorf("waiting for acceptance: %w", err)
		}
		if reply.Type == job.ReplyQueued {
			emit(job.Event{Kind: job.EventQueued, Provider: a.Bid.Provider, Count: reply.Position,
				Message: fmt.Sprintf("queued at position %d", reply.Position)})
			continue
		}
		if reply.Type != job.ReplyHeartbeat {
			break
		}
	}
	switch reply.Type {
	case job.ReplyAccepted:
		c.reps.started(a.Bid.Provider, time.Since(awarded))
		return nil
	case job.ReplyDeclined:
		return fmt.Errorf("%w: %s", errDeclined, reply.Reason)
	default:
		return fmt.Errorf("unexpected reply %q", reply.Type)
	}
}

// awaitResult reads the run's live log until its result, and checks the
// result is this award's.
func (c *Client) awaitResult(st network.Stream, r *bufio.Reader, end time.Time, a *job.Award, emit func(job.Event)) (*job.Result, error) {
	var reply job.Reply
	for {
		reply = job.Reply{}
		if err := c.readReply(st, r, end, &reply); err != nil {
			return nil, fmt.Errorf("waiting for the result: %w", err)
		}
		switch reply.Type {
		case job.ReplyHeartbeat:
			continue
		case job.ReplyLog:
			emit(job.Event{Kind: job.EventLog, Provider: a.Bid.Provider, Message: string(reply.Log)})
			continue
		}
		break
	}
	if reply.Type != job.ReplyResult || reply.Result == nil {
		return nil, fmt.Errorf("unexpected reply %q instead of a result", reply.Type)
	}
	res := reply.Result
	if res.Job != a.Job || res.Provider != a.Bid.Provider {
		return nil, fmt.Errorf("result for job %s from %s does not match the award", res.Job, res.Provider)
	}
	return res, nil
}

// readReply reads one reply from an award stream, allowing the heartbeat
// timeout of silence (and never past end).
func (c *Client) readReply(st network.Stream, r *bufio.Reader, end time.Time, reply *job.Reply) error {
	d := time.Now().Add(c.cfg.HeartbeatTimeout)
	if d.After(end) {
		d = end
	}
	_ = st.SetReadDeadline(d)
	err := mesh.ReadMsg(r, job.MaxReplySize, reply)
	var ne net.Error
	if err != nil && (errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()) && time.Now().Before(end) {
		return fmt.Errorf("provider silent for %v (no heartbeat): taken for dead", c.cfg.HeartbeatTimeout)
	}
	return err
}
