package client

import (
	"context"
	"fmt"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/market"
	"github.com/computemesh/computemesh/scheduler"
)

// deferPoll is how often a deferred job looks at the clock: the node's
// clock (Options.Now), which tests move.
const deferPoll = time.Second

// deferStart holds a job (or a job array) back before its first auction
// (issue #19; slottedAuction calls it once a dispatch): until
// its NotBefore, and — for a job that ranks by carbon (policy green, or
// a carbon weight) and has a deadline — until the greenest start hour within [NotBefore or
// now, deadline − its expected run] that the capacity records of the
// providers able to run it declare (scheduler.GreenestStart). It emits a
// deferred event saying until when and why (the job's record keeps it:
// job describe shows it). A job that has had an attempt (one resumed
// after a restart) is not held again. ctx's error when ctx ends while it
// waits, errClosing when the node closes.
func (c *Client) deferStart(ctx context.Context, t *ticket, emit func(job.Event)) error {
	if t.attempts > 0 {
		return nil
	}
	until, why := c.planStart(ctx, t)
	if !until.After(c.now()) {
		return nil
	}
	emit(job.Event{Kind: job.EventDeferred, Message: why})
	for {
		left := until.Sub(c.now())
		if left <= 0 {
			return nil
		}
		if err := c.sleep(ctx, min(left, deferPoll)); err != nil {
			return err
		}
	}
}

// planStart is when the job is to start, and why then, in words.
func (c *Client) planStart(ctx context.Context, t *ticket) (time.Time, string) {
	s, now := t.sub.Spec, c.now()
	from, why := now, ""
	if t.sub.NotBefore.After(now) {
		from = t.sub.NotBefore
		why = "deferred until its not-before " + from.UTC().Format(time.RFC3339)
	}
	// Only a job that ranks by carbon waits for a greener hour: a max
	// carbon alone is a cap, met or not by the bids of now.
	if (s.Policy != job.PolicyGreen && s.Weights.Carbon <= 0) || t.sub.Deadline.IsZero() {
		return from, why
	}
	// The latest start leaves the auction its time before the deadline
	// (the window, twice, and a margin: a failover, a queue).
	window := t.sub.BidWindow
	if window <= 0 {
		window = c.cfg.BidWindow
	}
	latest := t.sub.Deadline.Add(-max(s.ExpectedRun(), 2*window+deferMargin))
	if !latest.After(from) {
		return from, why
	}
	recs := c.deferRecords(ctx, s)
	g := scheduler.GreenestStart(recs, s.CarbonRun(), from, latest)
	if !g.At.After(from) {
		return from, why
	}
	then := fmt.Sprintf("nothing declared at %s", from.UTC().Format(time.RFC3339))
	if g.Now > 0 {
		then = fmt.Sprintf("against %s at %s, %d%% less", g.Now, from.UTC().Format(time.RFC3339), 100-int(100*g.Intensity/g.Now))
	}
	return g.At, fmt.Sprintf("deferred until %s for a greener hour: %s declared for the run then (%s's forecast), %s; the latest start is %s (the deadline less %v)",
		g.At.UTC().Format(time.RFC3339), g.Intensity, short(g.Provider), then, latest.UTC().Format(time.RFC3339), t.sub.Deadline.Sub(latest))
}

// deferMargin is what a deferred job keeps before its deadline beyond two
// bid windows.
const deferMargin = 10 * time.Second

// deferRecords are the capacity records of the providers that could run
// s: its resources, executor and regions, at a price within its max — a
// greener hour at a provider whose bid would be rejected is no reason to
// wait.
func (c *Client) deferRecords(ctx context.Context, s *job.Spec) []*job.Capacity {
	need := s.Resources.Need()
	need.Region, need.Executor = s.Region, s.Executor
	_, records := c.candidates(ctx, need)
	var recs []*job.Capacity
	for _, rec := range records {
		if rec.Mismatch(need) != "" || !s.RegionAllowed(rec.Region) {
			continue
		}
		if s.MaxPrice > 0 {
			if p, err := market.Price(rec.Rates, s.Resources, time.Duration(s.TimeoutMS)*time.Millisecond); err != nil || p > s.MaxPrice {
				continue
			}
		}
		recs = append(recs, rec)
	}
	return recs
}
