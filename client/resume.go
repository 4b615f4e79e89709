package client

import (
	"context"
	"fmt"
	"time"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/job"
	"github.com/ipfs/go-cid"
)

// How long a resumed job waits for providers on the jobs topic before its
// first auction (a freshly started node must join the topic's mesh first;
// after this it auctions anyway).
const resumeWaitProviders = 30 * time.Second

// Errors that end a job the client cannot resume.
const (
	errResumeSecrets = "the client restarted and secrets are never stored: resubmit"
	errResumeModule  = "the client restarted and the job's module %s is not in its store: resubmit"
	errInterrupted   = "the client node stopped during the attempt"
)

// reopen marks an unfinished record as resumed after a restart: the
// attempt the restart interrupted ends, and a job that cannot be dispatched
// again (its secrets were never stored, its module is gone) ends failed.
// It reports whether the job is to be dispatched again.
func (c *Client) reopen(r *api.JobRecord) bool {
	resumable := true
	c.journal.update(r.ID, func(r *api.JobRecord) bool {
		for i := range r.Attempts {
			if a := &r.Attempts[i]; a.End.IsZero() {
				// The attempt ended at the record's last write, or later.
				at := r.Updated
				if at.Before(a.Start) {
					at = a.Start
				}
				endAttempt(a, at, job.VerdictInterrupted, errInterrupted)
			}
		}
		r.Resumes++
		r.State = api.JobResumed
		why := ""
		switch {
		case r.Secrets:
			why = errResumeSecrets
		case r.Spec.Module != "" && !c.moduleHeld(r.Spec.Module):
			why = fmt.Sprintf(errResumeModule, r.Spec.Module)
		}
		if why != "" {
			resumable = false
			now := c.now()
			r.Outcome = &job.Outcome{
				Job: r.ID, State: job.StateFailed, ExitCode: -1, Error: why, Attempts: r.Attempted,
				Timings: job.Timings{Total: ms(now.Sub(r.Submitted))},
			}
			// An array's tasks that ended stay in its outcome.
			r.Outcome.Tasks, r.Tasks = r.Tasks, nil
			for _, t := range r.Outcome.Tasks {
				r.Outcome.Charge += t.Charge
			}
			r.State, r.Finished = job.StateFailed, now
			c.log.Warnw("job failed: it cannot be resumed", "job", r.ID, "reason", why)
		}
		return true
	})
	return resumable
}

func (c *Client) moduleHeld(module string) bool {
	id, err := job.ParseCID(module)
	return err == nil && c.store.Has(id)
}

// Resume dispatches the unfinished jobs found at New again, each in a
// goroutine the client owns (Close stops them). The node calls it once
// it is up.
func (c *Client) Resume() {
	for _, id := range c.resumable {
		c.own.Go(func() {
			if err := c.resume(id); err != nil {
				c.log.Warnw("resuming a job", "job", id, "err", err)
			}
		})
	}
	c.resumable = nil
}

// resume rebuilds a job's submission from its record and dispatches it
// again: same ID and nonce, the original submit time, attempt numbers going
// on.
func (c *Client) resume(id string) error {
	r, err := c.journal.get(id)
	if err != nil {
		return err
	}
	spec := r.Spec
	sub := Submission{Spec: &spec, BidWindow: time.Duration(r.BidWindowMS) * time.Millisecond}
	if r.DeadlineMS > 0 {
		sub.Deadline = time.UnixMilli(r.DeadlineMS)
	}
	sub.MaxWait = time.Duration(r.MaxWaitMS) * time.Millisecond
	if r.NotBeforeMS > 0 {
		sub.NotBefore = time.UnixMilli(r.NotBeforeMS)
	}
	if spec.Module != "" {
		mc, err := job.ParseCID(spec.Module)
		if err != nil {
			return err
		}
		if sub.Module, err = c.store.Get(mc); err != nil {
			return err
		}
	}
	if !spec.IsArray() || len(r.Tasks) < spec.Count { // something to place
		wctx, cancel := context.WithTimeout(c.ctx, resumeWaitProviders)
		err = c.mesh.WaitProviders(wctx, 1)
		cancel()
		if c.ctx.Err() != nil {
			return nil // closing: the job stays unfinished for the next start
		}
		if err != nil {
			c.log.Infow("resuming a job: no provider on the jobs topic yet; auctioning anyway", "job", id)
		}
	}
	if spec.IsArray() {
		c.log.Infow("resuming a job after a restart: the tasks without their results run", "job", id, "attempts", r.Attempted,
			"tasks_done", len(r.Tasks), "tasks", spec.Count)
	} else {
		c.log.Infow("resuming a job after a restart", "job", id, "attempts", r.Attempted)
	}
	t := &ticket{id: r.ID, nonce: r.Nonce, sub: sub, start: r.Submitted, attempts: r.Attempted, done: r.Tasks}
	_, err = c.dispatch(c.ctx, t, nil)
	if c.ctx.Err() != nil {
		return nil
	}
	return err
}

// jobTrack keeps one dispatch's job record up to date from the events the
// dispatch emits. A nil *jobTrack (a node without a data dir) does nothing.
type jobTrack struct {
	c  *Client
	id string
}

// track returns the record keeper of a dispatch: the record is created
// (and the module put in the content store) for a new submission, and
// taken up again for a resumed one.
func (c *Client) track(t *ticket) *jobTrack {
	if c.journal == nil {
		return nil
	}
	jt := &jobTrack{c: c, id: t.id}
	known := false
	c.journal.update(t.id, func(*api.JobRecord) bool { known = true; return false })
	if known {
		return jt
	}
	s := t.sub.Spec
	r := &api.JobRecord{
		V: recordVersion, ID: t.id, Nonce: t.nonce, Spec: *s, State: api.JobSubmitted,
		Submitted: t.start, BidWindowMS: t.sub.BidWindow.Milliseconds(), Secrets: len(t.sub.Secrets) > 0,
		Attempted: t.attempts,
	}
	if !t.sub.Deadline.IsZero() {
		r.DeadlineMS = t.sub.Deadline.UnixMilli()
	}
	r.MaxWaitMS = t.sub.MaxWait.Milliseconds()
	if !t.sub.NotBefore.IsZero() {
		r.NotBeforeMS = t.sub.NotBefore.UnixMilli()
	}
	if s.Module != "" && len(t.sub.Module) > 0 {
		mc, err := c.store.Put(t.sub.Module, cid.Raw)
		switch {
		case err != nil:
			c.log.Warnw("keeping a job's module: the job cannot be resumed after a restart", "job", t.id, "err", err)
		case mc.String() != s.Module:
			c.log.Warnw("a job's module is stored under another CID than its spec names", "job", t.id, "cid", mc, "module", s.Module)
		default:
			// Put returns once the module is on disk (the store writes
			// each blob with atomicfile: file and directory synced), or
			// finds it there from an earlier Put: no sync per job.
			r.ModuleStored = true
		}
	}
	c.journal.create(r)
	return jt
}

// task keeps the end of a task of the job (an array's) in its record.
func (jt *jobTrack) task(t job.TaskResult) {
	if jt != nil {
		jt.c.journal.addTask(jt.id, t)
	}
}

// sync waits until what the job's record was given so far is on disk.
func (jt *jobTrack) sync() {
	if jt != nil {
		jt.c.journal.sync()
	}
}

// lastRound is the record's current auction round (nil before the first).
func lastRound(r *api.JobRecord) *api.Round {
	if len(r.Rounds) == 0 {
		return nil
	}
	return &r.Rounds[len(r.Rounds)-1]
}

// openAttempt is the last unfinished attempt on provider.
func openAttempt(r *api.JobRecord, provider string) *api.Attempt {
	for i := len(r.Attempts) - 1; i >= 0; i-- {
		if a := &r.Attempts[i]; a.Provider == provider && a.End.IsZero() {
			return a
		}
	}
	return nil
}

// endAttempt ends an attempt at at with result.
func endAttempt(a *api.Attempt, at time.Time, result job.Verdict, err string) {
	a.End, a.Result, a.Error = at, result, err
	a.Duration = at.Sub(a.Start)
}

// observe records one event of the job. Once the node is closing, nothing
// new is recorded (no new rounds or attempts): only the end of attempts
// the closing interrupted, so that the job resumes at the next start.
// The record is built from the events' typed fields (Kind, Verdict,
// Decline, Reject), never from their messages.
func (jt *jobTrack) observe(e job.Event) {
	if jt == nil || e.Kind == job.EventLog || e.Kind == job.EventDone {
		return
	}
	closing := jt.c.ctx.Err() != nil
	jt.c.journal.update(jt.id, func(r *api.JobRecord) bool {
		return applyEvent(r, e, jt.c.now(), closing)
	})
}

// applyEvent applies one event to the record at now, and reports whether
// the change is worth writing at once.
func applyEvent(r *api.JobRecord, e job.Event, now time.Time, closing bool) bool {
	switch e.Kind {
	case job.EventCandidates, job.EventBid, job.EventDecline, job.EventClosed, job.EventRejected, job.EventWaiting:
		return observeRound(r, e, now, closing)
	case job.EventDeferred:
		if closing {
			return false
		}
		r.Deferred, r.State = e.Message, api.JobDeferred
		return true
	default:
		return observeAttempt(r, e, now, closing)
	}
}

// observeRound applies an event of the auction rounds.
func observeRound(r *api.JobRecord, e job.Event, now time.Time, closing bool) bool {
	rd := lastRound(r)
	switch e.Kind {
	case job.EventCandidates:
		if closing {
			return false
		}
		r.Rounds = append(r.Rounds, api.Round{Started: now, Candidates: e.Count})
		if len(r.Rounds) > recordRoundsKept {
			r.Rounds = append(r.Rounds[:0], r.Rounds[1:]...)
			r.RoundsDropped++
		}
		r.State = api.JobAuction
	case job.EventBid, job.EventDecline:
		if rd != nil && len(rd.Answers) < recordBidsKept {
			b := api.RoundBid{Provider: e.Provider, Region: e.Region}
			if e.Kind == job.EventBid {
				b.Price, b.Queue, b.Carbon = e.Price, e.Count, e.Carbon
			} else {
				b.Decline, b.Code = e.Message, e.Decline
			}
			rd.Answers = append(rd.Answers, b)
		}
	case job.EventClosed:
		if rd != nil {
			rd.Closed = e.Message
		}
	case job.EventRejected:
		if rd != nil && len(rd.Rejected) < recordBidsKept {
			rd.Rejected = append(rd.Rejected, api.Rejection{Provider: e.Provider, Price: e.Price, Reason: e.Message, Code: e.Reject})
		}
	case job.EventWaiting:
		if closing {
			return false
		}
		if rd != nil {
			rd.Waiting = e.Message
		}
		r.State = api.JobWaiting
		return true
	}
	return false
}

// observeAttempt applies an event of the attempts: an award and how it
// went.
func observeAttempt(r *api.JobRecord, e job.Event, now time.Time, closing bool) bool {
	switch e.Kind {
	case job.EventWinner:
		if closing {
			return false
		}
		if rd := lastRound(r); rd != nil {
			rd.Awarded = append(rd.Awarded, e.Provider)
		}
		r.Attempted++
		r.Attempts = append(r.Attempts, api.Attempt{
			N: r.Attempted, Provider: e.Provider, Region: e.Region, Price: e.Price, Why: e.Message, Start: now,
		})
		if len(r.Attempts) > recordTriesKept {
			r.Attempts = append(r.Attempts[:0], r.Attempts[1:]...)
		}
		r.State = api.JobAwarded
		return true
	case job.EventQueued:
		if a := openAttempt(r, e.Provider); a != nil {
			a.Queue = e.Count
			r.State = api.JobQueued
		}
	case job.EventRunning:
		if a := openAttempt(r, e.Provider); a != nil {
			a.Running = now
			r.State = api.JobRunning
			return true
		}
	case job.EventFailover:
		a := openAttempt(r, e.Provider)
		if a == nil {
			return false
		}
		if closing {
			endAttempt(a, now, job.VerdictInterrupted, errInterrupted+" ("+e.Message+")")
		} else {
			endAttempt(a, now, failoverVerdict(e.Verdict), e.Message)
		}
		return true
	case job.EventReplica:
		if a := openAttempt(r, e.Provider); a != nil {
			endAttempt(a, now, e.Verdict, "")
			a.Charge = e.Price
		}
	}
	return false
}

// failoverVerdict is the verdict of an attempt that ended in a failover:
// the event's (declined or failed), failed when it has none.
func failoverVerdict(v job.Verdict) job.Verdict {
	if v == "" {
		return job.VerdictFailed
	}
	return v
}

// finish records the job's outcome, once. A job that ends because its node
// is closing (anything but completed) is not finished: its record stays
// open, and the job resumes at the node's next start.
func (jt *jobTrack) finish(out *job.Outcome) {
	if jt == nil {
		return
	}
	closing := jt.c.ctx.Err() != nil
	jt.c.journal.update(jt.id, func(r *api.JobRecord) bool {
		now := jt.c.now()
		if closing && out.State != job.StateCompleted {
			for i := range r.Attempts {
				if a := &r.Attempts[i]; a.End.IsZero() {
					endAttempt(a, now, job.VerdictInterrupted, errInterrupted)
				}
			}
			return true
		}
		o := *out
		if len(o.Stdout) > recordOutputKept {
			o.Stdout, r.OutputCut = o.Stdout[:recordOutputKept], true
		}
		if len(o.Stderr) > recordOutputKept {
			o.Stderr, r.OutputCut = o.Stderr[:recordOutputKept], true
		}
		for i := range r.Attempts {
			a := &r.Attempts[i]
			if !a.End.IsZero() {
				continue
			}
			endAttempt(a, now, job.VerdictOf(o.State), "")
			if a.Provider == o.Provider {
				a.Error = o.Error
				if len(o.Replicas) == 0 {
					a.Charge = o.Charge
				}
			}
		}
		r.Attempted = max(r.Attempted, o.Attempts)
		r.Outcome, r.State, r.Finished = &o, o.State, now
		r.Tasks = nil // the outcome holds every task
		return true
	})
	jt.c.journal.sync() // the outcome is on disk before it is reported
}

// Jobs lists the jobs this node submitted that its data dir keeps, newest
// first (none for a node without a data dir).
func (c *Client) Jobs() []api.JobSummary {
	if c.journal == nil {
		return []api.JobSummary{}
	}
	return c.journal.list()
}

// Job returns the record of a job this node submitted, by ID, unique ID
// prefix, or the "prefix…suffix" short form.
func (c *Client) Job(ref string) (*api.JobRecord, error) {
	if c.journal == nil {
		return nil, fmt.Errorf("%w: %s (a node without a data dir keeps no job records)", ErrUnknownJob, ref)
	}
	return c.journal.get(ref)
}
