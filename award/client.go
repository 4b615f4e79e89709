package award

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
)

// Option configures the client end of an award stream (Request).
type Option func(*callConfig)

type callConfig struct {
	heartbeat  time.Duration
	onQueued   func(position int)
	onAccepted func(wait time.Duration)
	onLog      func(chunk []byte)
}

// HeartbeatTimeout sets how long the stream may stay silent before its
// provider is taken for dead (default DefaultHeartbeatTimeout).
func HeartbeatTimeout(d time.Duration) Option {
	return func(c *callConfig) {
		if d > 0 {
			c.heartbeat = d
		}
	}
}

// OnQueued is called with the position of each queued reply.
func OnQueued(f func(position int)) Option { return func(c *callConfig) { c.onQueued = f } }

// OnAccepted is called when the provider accepts the award, with how long
// after the award it did.
func OnAccepted(f func(wait time.Duration)) Option {
	return func(c *callConfig) { c.onAccepted = f }
}

// OnLog is called with each chunk of the run's live log.
func OnLog(f func(chunk []byte)) Option { return func(c *callConfig) { c.onLog = f } }

// Call is the client end of one award stream.
type Call struct {
	s    network.Stream
	r    *bufio.Reader
	a    *job.Award
	end  time.Time // the stream is followed no longer
	cfg  callConfig
	stop func() bool
}

// Request sends the award a on the award stream s, which it owns from then
// on (Close closes it, and ctx ending resets it). The whole call has the
// job's timeout and JobSlack.
func Request(ctx context.Context, s network.Stream, a *job.Award, opts ...Option) (*Call, error) {
	c := &Call{s: s, r: bufio.NewReader(s), a: a, cfg: callConfig{heartbeat: DefaultHeartbeatTimeout}}
	for _, o := range opts {
		o(&c.cfg)
	}
	c.stop = context.AfterFunc(ctx, func() { _ = s.Reset() })
	// The whole job has its timeout and some slack (a job array's slice,
	// its tasks' timeouts one after another at most); within it, a stream
	// silent for the heartbeat timeout means a dead provider.
	c.end = time.Now().Add(a.Spec.Timeout()*time.Duration(max(len(a.Tasks), 1)) + JobSlack)
	_ = s.SetWriteDeadline(c.end)
	if err := mesh.WriteMsg(s, a); err != nil {
		c.Close()
		return nil, fmt.Errorf("sending award: %w", err)
	}
	return c, nil
}

// Close ends the call and closes its stream.
func (c *Call) Close() error {
	c.stop()
	return c.s.Close()
}

// Result follows the provider's replies until the result: queued (with
// heartbeats) until accepted or declined, then the live log. A decline is
// an error matching ErrDeclined; a result not for the award is refused.
func (c *Call) Result() (*job.Result, error) {
	if err := c.awaitAcceptance(); err != nil {
		return nil, err
	}
	return c.awaitResult()
}

// awaitAcceptance reads the provider's answer to the award: queued (with
// heartbeats) until accepted, or declined.
func (c *Call) awaitAcceptance() error {
	awarded := time.Now()
	var reply job.Reply
	for {
		// Before acceptance the provider is either queueing the job (with
		// heartbeats) or answering at once.
		reply = job.Reply{}
		if err := c.readReply(&reply); err != nil {
			return fmt.Errorf("waiting for acceptance: %w", err)
		}
		if reply.Type == job.ReplyQueued {
			if c.cfg.onQueued != nil {
				c.cfg.onQueued(reply.Position)
			}
			continue
		}
		if reply.Type != job.ReplyHeartbeat {
			break
		}
	}
	switch reply.Type {
	case job.ReplyAccepted:
		if c.cfg.onAccepted != nil {
			c.cfg.onAccepted(time.Since(awarded))
		}
		return nil
	case job.ReplyDeclined:
		return fmt.Errorf("%w: %s", ErrDeclined, reply.Reason)
	default:
		return fmt.Errorf("unexpected reply %q", reply.Type)
	}
}

// awaitResult reads the run's live log until its result, and checks the
// result is this award's.
func (c *Call) awaitResult() (*job.Result, error) {
	var reply job.Reply
	for {
		reply = job.Reply{}
		if err := c.readReply(&reply); err != nil {
			return nil, fmt.Errorf("waiting for the result: %w", err)
		}
		switch reply.Type {
		case job.ReplyHeartbeat:
			continue
		case job.ReplyLog:
			if c.cfg.onLog != nil {
				c.cfg.onLog(reply.Log)
			}
			continue
		}
		break
	}
	if reply.Type != job.ReplyResult || reply.Result == nil {
		return nil, fmt.Errorf("unexpected reply %q instead of a result", reply.Type)
	}
	res := reply.Result
	if res.Job != c.a.Job || res.Provider != c.a.Bid.Provider {
		return nil, fmt.Errorf("result for job %s from %s does not match the award", res.Job, res.Provider)
	}
	return res, nil
}

// readReply reads one reply, allowing the heartbeat timeout of silence
// (and never past the call's end).
func (c *Call) readReply(reply *job.Reply) error {
	d := time.Now().Add(c.cfg.heartbeat)
	if d.After(c.end) {
		d = c.end
	}
	_ = c.s.SetReadDeadline(d)
	err := mesh.ReadMsg(c.r, MaxReply, reply)
	var ne net.Error
	if err != nil && (errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()) && time.Now().Before(c.end) {
		return fmt.Errorf("provider silent for %v (no heartbeat): %w", c.cfg.heartbeat, ErrSilent)
	}
	return err
}

// Pay is the client's side of the receipt step, once the result is in: p
// signs a receipt for charge (ctx bounds what it does first), the call
// sends it and checks the provider's counter-signature, and p sends the
// receipt to its holders. Signed, the receipt pays: when the provider does
// not counter-sign it, it goes to its holders as it is, and Pay says why.
func (c *Call) Pay(ctx context.Context, p Payer, charge job.Credits) error {
	rc, err := p.SignReceipt(ctx, c.a, charge)
	if err != nil {
		return err
	}
	back, err := c.counterSigned(p, rc)
	if err != nil {
		p.PushRecord(rc) // signed, it pays: its holders need it
		return err
	}
	p.PushRecord(back)
	return nil
}

// counterSigned sends the signed receipt and returns it counter-signed.
func (c *Call) counterSigned(p Payer, rc *job.Receipt) (*job.Receipt, error) {
	_ = c.s.SetDeadline(time.Now().Add(ReceiptWait))
	if err := mesh.WriteMsg(c.s, receiptOffer{Receipt: *rc}); err != nil {
		return nil, fmt.Errorf("sending the receipt: %w", err)
	}
	var reply job.Reply
	if err := mesh.ReadMsg(c.r, MaxReply, &reply); err != nil {
		return nil, fmt.Errorf("waiting for the counter-signed receipt: %w", err)
	}
	if reply.Type != job.ReplyReceipt || reply.Receipt == nil {
		return nil, fmt.Errorf("a %q reply instead of the counter-signed receipt", reply.Type)
	}
	back := reply.Receipt
	if err := p.CheckCounterSigned(rc, back); err != nil {
		return nil, err
	}
	return back, nil
}
