package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/award"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/scheduler"
)

// runSlice awards tasks of the array to ranked[i] and follows the result
// of each: one authorisation for the slice (the pay of a task × its
// size), one receipt for the sum of the charges. When the provider
// declines, fails, dies, falls silent or breaks the protocol, the tasks
// without a result go back to be placed again, and the provider is left
// out of the array's next rounds.
func (c *Client) runSlice(ctx context.Context, t *ticket, ranked []scheduler.Option, i int, tasks []int, arr *arrayRun, out *job.Outcome, emit func(job.Event)) {
	s, o := t.sub.Spec, ranked[i]
	pay := scheduler.Pay(s.Auction, ranked, i)
	why := scheduler.Why(s.Policy, ranked, i)
	emit(job.Event{Kind: job.EventWinner, Provider: o.Bid.Provider, Region: o.Bid.Region, Price: o.Bid.Price, RTT: o.RTT, Count: len(tasks),
		Message: fmt.Sprintf("a slice of %d tasks (it takes %d at once): %s", len(tasks), scheduler.TasksOf(&o.Bid), why)})
	c.mu.Lock()
	out.Attempts++
	attempt := out.Attempts
	c.mu.Unlock()
	a := &job.Award{
		V: job.Version, Job: t.id, Client: c.mesh.ID().String(), Nonce: t.nonce, Spec: *s, Bid: o.Bid, Attempt: attempt,
		Secrets: t.sub.Secrets, Tasks: tasks,
	}
	if pay != o.Bid.Price {
		a.Pay = pay
	}
	arr.awarded(tasks)
	// The award's number is in the record before its authorisation takes
	// a slot: a restart numbers its awards after it.
	arr.jt.sync()
	got := map[int]bool{}
	err := c.awardSlice(ctx, a, pay, arr, got, emit)
	if err == nil {
		c.reps.update(o.Bid.Provider, func(r *api.Reputation) { r.Completed++ })
		return
	}
	var missing []int
	for _, task := range tasks {
		if !got[task] {
			missing = append(missing, task)
		}
	}
	arr.requeue(missing...)
	if ctx.Err() != nil {
		return
	}
	if !errors.Is(err, award.ErrDeclined) {
		// A provider that failed its slice (or broke the protocol) gets
		// no more of the array; one that declined it (busy, its bid gone:
		// late binding) may bid again in the next round — excluded, a mesh
		// whose every other provider had failed would have none left.
		arr.exclude(o.Bid.Provider, err.Error())
		c.reps.update(o.Bid.Provider, func(r *api.Reputation) { r.Failed++ })
	}
	if errors.Is(err, award.ErrBreach) {
		c.log.Warnw("array slice: the provider broke the protocol", "job", t.id, "provider", o.Bid.Provider, "err", err)
	}
	emit(job.Event{Kind: job.EventFailover, Provider: o.Bid.Provider, Count: len(missing), Verdict: attemptVerdict(err),
		Message: fmt.Sprintf("%d tasks of its slice go back to the auction: %v", len(missing), err)})
}

// awardSlice authorises and sends a slice's award, hands each task's
// result to the array as it comes (got marks them), and pays the slice's
// one receipt once every task has its result.
func (c *Client) awardSlice(ctx context.Context, a *job.Award, pay job.Credits, arr *arrayRun, got map[int]bool, emit func(job.Event)) error {
	auth, err := c.credits.Authorize(c.ctx, a, job.SliceMax(pay, len(a.Tasks)))
	if err != nil {
		return err
	}
	a.Auth = auth
	defer c.credits.VoidUnpaid(auth) // its receipt filled the slot, or nothing will
	st, err := c.openAward(ctx, a)
	if err != nil {
		return err
	}
	call, err := award.Request(ctx, st, a, award.HeartbeatTimeout(c.cfg.HeartbeatTimeout),
		award.OnAccepted(func(wait time.Duration) {
			c.reps.started(a.Bid.Provider, wait)
			emit(job.Event{Kind: job.EventRunning, Provider: a.Bid.Provider, Count: len(a.Tasks)})
		}))
	if err != nil {
		return err
	}
	defer call.Close()
	var sum job.Credits
	ran := 0
	err = call.TaskResults(pay, func(res *job.Result) {
		got[res.Task] = true // a provider error puts it back itself (taskEnded)
		if res.Error == "" {
			sum += res.Charge
			ran++
		}
		c.taskEnded(ctx, arr, a.Bid.Provider, res)
	})
	if err != nil {
		return err
	}
	if ran > 0 {
		// The tasks' ends are in the record before the receipt pays for
		// them: a restart after it does not run them (nor pay them) again,
		// and one before it finds the slot unpaid (void, the provider's
		// claim prevailing).
		arr.jt.sync()
		if err := call.Pay(c.ctx, c.credits, sum); err != nil {
			c.metrics.Unreceipted.Inc()
			c.log.Warnw("no receipt", "job", a.Job, "attempt", a.Attempt, "tasks", len(a.Tasks), "provider", a.Bid.Provider, "err", err)
		}
		c.spend(sum)
		c.metrics.Spent.Add(float64(sum))
	}
	return nil
}
