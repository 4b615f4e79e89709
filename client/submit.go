package client

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/award"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/scheduler"
)

// Submission is one job a client asks the mesh to run.
type Submission struct {
	Spec *job.Spec
	// Module is a WASM job's module; empty, the module named by the spec
	// is taken from this node's cache or store (by reference).
	Module []byte
	// Secrets are environment variables for the winner alone (see
	// job.Award.Secrets).
	Secrets map[string]string
	// BidWindow is the auction's deadline (default: the node's).
	BidWindow time.Duration
	// Deadline is how long the job may wait to be placed: a bid on which
	// it would start later is rejected (scheduler.MeetsDeadline, its wait
	// counting this client's own awards there since the bid), and while
	// no bid is feasible, or every bidder fails, the client waits and
	// re-auctions with backoff until then, saying why it waits. Zero: one
	// auction, then the job ends unscheduled.
	Deadline time.Time
	// MaxWait is a soft bound on the job's queue wait (a batch's: submit
	// --repeat sets DefaultBatchMaxWait when it has no deadline): bids
	// that would wait longer rank after every bid within it, the earliest
	// start first among them (scheduler.Policy.MaxWait); none is rejected
	// for it. Zero: none.
	MaxWait time.Duration
	// NotBefore is the earliest the job may start: it waits until then
	// before its first auction. A job that weighs carbon and has a
	// Deadline may wait longer, for the greenest hour the providers'
	// forecasts declare before Deadline less its expected run (defer.go).
	NotBefore time.Time
}

// Progress receives a job's events as they happen. It must not block.
type Progress func(job.Event)

// attemptVerdict is the verdict of an attempt that ended in err: declined
// when the bidder declined its award, failed otherwise.
func attemptVerdict(err error) job.Verdict {
	if errors.Is(err, award.ErrDeclined) {
		return job.VerdictDeclined
	}
	return job.VerdictFailed
}

// ErrBadSubmission wraps what is wrong with a submission before anything is
// sent.
var ErrBadSubmission = errors.New("bad submission")

// Backoff between auctions of a job that waits for a provider.
const (
	waitBackoffMin = 500 * time.Millisecond
	waitBackoffMax = 10 * time.Second
)

// Pushback: how a client keeps a busy mesh from dropping its jobs.
const (
	// DefaultMaxAuctions is how many auctions a client runs at once
	// (Config.MaxAuctions).
	DefaultMaxAuctions = 32
	// DefaultBusyWait is how long a job without a deadline goes on
	// auctioning while the mesh is busy (Config.BusyWait).
	DefaultBusyWait = 2 * time.Minute
	// DefaultBatchMaxWait is the soft wait bound (Submission.MaxWait) that
	// `submit --repeat` gives a batch without a deadline: a batch's jobs
	// take the cheapest bids that start within it, so that a burst spreads
	// over the mesh once the cheapest providers' queues hold that much
	// work, instead of queuing everything on the cheapest one.
	DefaultBatchMaxWait = 5 * time.Second
)

// Submit runs one job through the mesh: discover candidates, gossip the
// request, collect bids until every candidate has answered or the window
// closes, rank them, award the winner over a direct stream and fail over to
// the next bid when it declines, dies or falls silent; with no feasible bid
// it waits and re-auctions until the submission's deadline. It returns the
// outcome; an error only when the submission is invalid (wrapping
// ErrBadSubmission) or the node is closing.
func (c *Client) Submit(ctx context.Context, sub Submission, progress Progress) (*job.Outcome, error) {
	if err := c.checkSubmission(&sub); err != nil {
		return nil, err
	}
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	id := job.NewID(sub.Spec, c.mesh.ID().String(), nonce).String()
	return c.dispatch(ctx, &ticket{id: id, nonce: nonce, sub: sub, start: c.now()}, progress)
}

// ticket is what identifies a job across its auctions and attempts (and,
// persisted, across restarts of its client).
type ticket struct {
	id    string
	nonce []byte
	sub   Submission
	start time.Time
	// attempts made before this dispatch (a resumed job goes on counting).
	attempts int
	// done are the tasks of a resumed array that have their results.
	done []job.TaskResult
	// widen: the next round asks every provider (GossipBids), once, after
	// a round whose candidates could not take the job; widened: it did.
	widen, widened bool
	// deferred: the job's start was planned (defer.go), once a dispatch.
	deferred bool
}

// round is one auction of a job and what came of it.
type round struct {
	gossip  bool // its request asked every provider (GossipBids)
	cands   int
	answers []job.Bid
	ev      scheduler.Evaluation
	need    job.Need
	err     error // the request could not be gossiped
	// lapsed: every bidder declined its award (its bid lapsed, or its room
	// went to another job in between): nobody ran the job.
	lapsed bool
	// arrived is when each provider's answer arrived (its backlog counts
	// this client's awards there from then on).
	arrived map[string]time.Time
}

// dispatch places and runs a job: auctions until a bid is feasible (or the
// deadline passes), then awards, with failover, on one provider or on the
// job's replicas.
func (c *Client) dispatch(ctx context.Context, t *ticket, progress Progress) (*job.Outcome, error) {
	if t.sub.Spec.IsArray() {
		return c.dispatchArray(ctx, t, progress)
	}
	if progress == nil {
		progress = func(job.Event) {}
	}
	s, id := t.sub.Spec, t.id
	out := &job.Outcome{Job: id, Attempts: t.attempts}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	reg := c.jobs.add(id, cancel)
	defer reg.close()
	emit, finish := c.jobEvents(t, reg, out, progress)
	// A provider that submits subscribes to bids at its first job.
	if err := c.mesh.OnBid(c.onBid); err != nil {
		return nil, err
	}
	if s.Module != "" {
		c.blobs.Put(s.Module, t.sub.Module, true)
		defer c.blobs.Unpin(s.Module)
	}
	backoff := waitBackoffMin
	for {
		r, err := c.slottedAuction(ctx, t, out, emit)
		if err != nil {
			return nil, err
		}
		if ctx.Err() != nil {
			out.State, out.ExitCode, out.Error = job.StateCancelled, -1, "cancelled during the auction"
			return finish(), nil
		}
		var why string
		if c.widen(t, r) {
			emit(job.Event{Kind: job.EventWaiting, Message: noBids(s, r.cands, r.answers, r.ev.Rejected) + "; asking every provider once"})
			continue
		}
		if len(r.ev.Ranked) == 0 {
			out.State, out.ExitCode = job.StateUnscheduled, -1
			why = c.unscheduled(ctx, s, r)
		} else {
			runStart := time.Now()
			var placed bool
			if s.Replicas > 1 {
				placed = c.runReplicas(ctx, t, r.ev.Ranked, out, emit)
			} else {
				placed = c.runOne(ctx, t, r.ev.Ranked, out, emit)
			}
			out.Timings.Run = ms(time.Since(runStart))
			if placed || ctx.Err() != nil {
				return finish(), nil
			}
			why, r.lapsed = out.Error, out.State == job.StateUnscheduled
		}
		out.Error = why
		until, busy := c.waitUntil(t, r)
		if until.IsZero() || c.now().Add(backoff).After(until) {
			switch {
			case busy:
				out.Error += fmt.Sprintf(" (the mesh stayed busy for %v)", c.busyWait())
			case !until.IsZero():
				out.Error += fmt.Sprintf(" (waited until the deadline, %s)", until.Format(time.RFC3339))
			}
			return finish(), nil
		}
		if busy {
			why = "the mesh is busy: " + why
		}
		emit(job.Event{Kind: job.EventWaiting, Message: fmt.Sprintf("%s; next auction in %v", why, backoff)})
		if err := c.sleep(ctx, backoff); err != nil {
			if errors.Is(err, errClosing) {
				return nil, err
			}
			out.State, out.ExitCode, out.Error = job.StateCancelled, -1, "cancelled while waiting for a provider"
			return finish(), nil
		}
		backoff = min(2*backoff, waitBackoffMax)
	}
}

// waitUntil is how long a job whose round placed nothing goes on
// auctioning: until its deadline when it has one; without one, while the
// mesh is busy — candidates there but silent (their request queues past
// the bid window), declining busy, or bidding but too late (their bids
// expired before the auction could take them, or every bidder declined
// its award) — until DefaultBusyWait
// after its submission (busy reports that case); otherwise not at all
// (zero: what was asked cannot be had, and waiting would not change it).
func (c *Client) waitUntil(t *ticket, r *round) (until time.Time, busy bool) {
	if !t.sub.Deadline.IsZero() {
		return t.sub.Deadline, false
	}
	if len(r.ev.Ranked) > 0 && !r.lapsed || r.cands == 0 || r.err != nil {
		return time.Time{}, false
	}
	busy = len(r.answers) == 0 || r.lapsed
	for _, a := range r.answers {
		busy = busy || a.Decline == job.DeclineBusy
	}
	for _, rj := range r.ev.Rejected {
		busy = busy || rj.Code == job.RejectExpired
	}
	if !busy {
		return time.Time{}, false
	}
	return t.start.Add(c.busyWait()), true
}

// widen reports whether the job auctions again at once asking every
// provider (job.Request.GossipBids), after round r: once, when r's
// candidates answered that they cannot take the job (not a busy mesh,
// which the client waits out). A provider that matches may not be a
// candidate yet: one behind a NAT still being dialled through a relay, one
// the DHT did not list.
func (c *Client) widen(t *ticket, r *round) bool {
	t.widen = false
	if len(r.ev.Ranked) > 0 || t.widened || r.gossip || r.err != nil {
		return false
	}
	if _, busy := c.waitUntil(t, r); busy {
		return false
	}
	t.widen, t.widened = true, true
	return true
}

// busyWait is how long a job without a deadline waits out a busy mesh.
func (c *Client) busyWait() time.Duration {
	if c.cfg.BusyWait > 0 {
		return c.cfg.BusyWait
	}
	return DefaultBusyWait
}

// slottedAuction runs an auction round once one of the client's
// MaxAuctions slots is free: a client never has more requests out than
// its providers can answer within a window, so a large batch waits its
// turn here instead of flooding them into silence. When ctx ends while it
// waits it returns an empty round (the caller sees ctx's end); an error
// only when the node is closing.
func (c *Client) slottedAuction(ctx context.Context, t *ticket, out *job.Outcome, emit func(job.Event)) (*round, error) {
	if !t.deferred {
		t.deferred = true
		if err := c.deferStart(ctx, t, emit); errors.Is(err, errClosing) {
			return nil, err
		} else if err != nil {
			return &round{}, nil // ctx ended while the job waited: the caller sees it
		}
	}
	select {
	case c.slots <- struct{}{}:
	default:
		emit(job.Event{Kind: job.EventHeld, Count: cap(c.slots), Message: fmt.Sprintf("%d auctions of this node in flight: waiting for one to end", cap(c.slots))})
		select {
		case c.slots <- struct{}{}:
		case <-ctx.Done():
			return &round{}, nil
		case <-c.ctx.Done():
			return nil, errClosing
		}
	}
	defer func() { <-c.slots }()
	return c.auction(ctx, t, out, emit)
}

// errClosing: the node is closing.
var errClosing = errors.New("node closing")

// sleep waits d, or less: ctx's error when ctx ends first, errClosing
// when the node closes first.
func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.ctx.Done():
		return errClosing
	}
}

// jobEvents returns how a job's events are emitted (to its registry
// entry, its record and the caller's progress, one at a time: replicas
// emit from several goroutines) and how it finishes (timings, metrics,
// record, the done event).
func (c *Client) jobEvents(t *ticket, reg *clientJob, out *job.Outcome, progress Progress) (emit func(job.Event), finish func() *job.Outcome) {
	jt := c.track(t) // the job's record in the data dir (resume.go)
	var mu sync.Mutex
	emit = func(e job.Event) {
		mu.Lock()
		defer mu.Unlock()
		e.Job, e.Elapsed = t.id, time.Since(t.start)
		reg.record(e)
		jt.observe(e)
		progress(e)
	}
	finish = func() *job.Outcome {
		out.Timings.Total = ms(time.Since(t.start))
		c.metrics.Jobs.WithLabelValues(string(out.State)).Inc()
		c.metrics.Duration.Observe(time.Since(t.start).Seconds())
		jt.finish(out)
		emit(job.Event{Kind: job.EventDone, Provider: out.Provider, Message: string(out.State)})
		return out
	}
	return emit, finish
}

// unscheduled says why a round placed nothing: no bids and why, or the
// request not gossiped; for a GPU job, how every provider's record falls
// short ("0 of 6 providers match: 4 no GPU, ...").
func (c *Client) unscheduled(ctx context.Context, s *job.Spec, r *round) string {
	why := noBids(s, r.cands, r.answers, r.ev.Rejected)
	if r.err != nil {
		why = "the request could not be gossiped: " + r.err.Error()
	}
	if r.need.GPUs > 0 || r.need.GPUModel != "" || r.need.MinVRAM > 0 {
		// Explain from every provider's record, not only those the
		// specific look-up found.
		all := c.FindProviders(ctx, job.Need{Executor: r.need.Executor})
		for i := range all {
			if all[i].Record != nil {
				all[i].Mismatch = all[i].Record.Mismatch(r.need)
			}
		}
		why += "; " + api.Mismatches(all)
	}
	return why
}

// runOne awards the job down the ranking until one bidder returns a
// result: the runner-up takes over at its own bid when the winner declines,
// dies or falls silent. It reports whether the job was placed (out is then
// final); when every bidder failed, out.Error says how.
func (c *Client) runOne(ctx context.Context, t *ticket, ranked []scheduler.Option, out *job.Outcome, emit func(job.Event)) bool {
	var failures []string
	declines := 0
	for i := range ranked {
		o := ranked[i]
		res, why, err := c.attempt(ctx, t, ranked, i, out, emit)
		if err != nil {
			if ctx.Err() != nil {
				out.State, out.ExitCode, out.Provider, out.Region = job.StateCancelled, -1, o.Bid.Provider, o.Bid.Region
				out.Error = "cancelled while running on " + o.Bid.Provider
				return true
			}
			failures = append(failures, fmt.Sprintf("%s: %v", short(o.Bid.Provider), err))
			v := attemptVerdict(err)
			if v == job.VerdictDeclined {
				declines++
			}
			emit(job.Event{Kind: job.EventFailover, Provider: o.Bid.Provider, Message: err.Error(), Verdict: v})
			continue
		}
		out.Provider, out.Region, out.Price, out.Reason, out.Carbon = o.Bid.Provider, o.Bid.Region, o.Bid.Price, why, o.Bid.Carbon
		fctx, stop := transferEvents(ctx, o.Bid.Provider, emit)
		c.settle(fctx, t.sub.Spec, o.Bid.Provider, res, out)
		stop()
		c.spend(res.Charge)
		c.metrics.Spent.Add(float64(res.Charge))
		return true
	}
	out.State, out.ExitCode = job.StateFailed, -1
	if declines == len(failures) {
		// Nobody ran it: every bidder declined at award time (late binding).
		out.State = job.StateUnscheduled
	}
	out.Error = fmt.Sprintf("every bidder failed: %s", strings.Join(failures, "; "))
	return false
}

// attempt awards the job to ranked[i] and waits for its result.
func (c *Client) attempt(ctx context.Context, t *ticket, ranked []scheduler.Option, i int, out *job.Outcome, emit func(job.Event)) (*job.Result, string, error) {
	s := t.sub.Spec
	o := ranked[i]
	why := scheduler.Why(s.Policy, ranked, i) + scheduler.WhyWait(t.sub.MaxWait, ranked, i)
	pay := scheduler.Pay(s.Auction, ranked, i)
	// In this client's backlog there from now until its result (or
	// failure): the auctions running beside this one count it.
	awarded := c.backlog.award(o.Bid.Provider, c.now())
	defer func() { awarded(0) }()
	if pay != o.Bid.Price {
		why += fmt.Sprintf("; second-price: paid up to the runner-up's %s", pay)
	}
	emit(job.Event{Kind: job.EventWinner, Provider: o.Bid.Provider, Region: o.Bid.Region, Price: o.Bid.Price, RTT: o.RTT, Message: why, Carbon: o.Bid.Carbon})
	c.mu.Lock()
	out.Attempts++
	attempt := out.Attempts
	c.mu.Unlock()
	a := &job.Award{
		V: job.Version, Job: t.id, Client: c.mesh.ID().String(), Nonce: t.nonce, Spec: *s, Bid: o.Bid, Attempt: attempt,
		Secrets: t.sub.Secrets,
	}
	if pay != o.Bid.Price {
		a.Pay = pay
	}
	auth, err := c.credits.Authorize(c.ctx, a, pay)
	if err != nil {
		return nil, why, err
	}
	a.Auth = auth
	// Should the job outlast the losers' bids, the next bidders keep
	// theirs: they are its failover.
	stopHold := c.holdBackups(t.id, ranked, i)
	res, err := c.award(ctx, a, emit)
	stopHold()
	if res != nil {
		awarded(time.Duration(res.RunMS * float64(time.Millisecond)))
	}
	c.credits.VoidUnpaid(auth) // its receipt filled the slot, or nothing will
	if err == nil && res.Error != "" {
		err = fmt.Errorf("provider error: %s", res.Error)
	}
	switch {
	case ctx.Err() != nil, errors.Is(err, award.ErrDeclined):
		// Cancelled by the client, or declined before accepting: neither
		// says anything of the provider.
	case err != nil:
		c.reps.update(o.Bid.Provider, func(r *api.Reputation) { r.Failed++ })
	case res.TimedOut:
		c.reps.update(o.Bid.Provider, func(r *api.Reputation) { r.TimedOut++ })
	default:
		c.reps.update(o.Bid.Provider, func(r *api.Reputation) { r.Completed++ })
	}
	return res, why, err
}
