package node

import (
	"context"
	"fmt"
	"path/filepath"
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

// openJournal opens the job records of a node with a data dir and prepares
// the unfinished jobs for resumption (started by startResumes).
func (n *Node) openJournal() error {
	if n.cfg.DataDir == "" {
		return nil
	}
	j, unfinished, err := openJournal(filepath.Join(n.cfg.DataDir, JobsDir), FinishedJobsKept)
	if err != nil {
		return err
	}
	n.journal = j
	for _, r := range unfinished {
		if n.reopen(r) {
			n.resumable = append(n.resumable, r.ID)
		}
	}
	return nil
}

// reopen marks an unfinished record as resumed after a restart: the
// attempt the restart interrupted ends, and a job that cannot be dispatched
// again (its secrets were never stored, its module is gone) ends failed.
// It reports whether the job is to be dispatched again.
func (n *Node) reopen(r *api.JobRecord) bool {
	resumable := true
	n.journal.update(r.ID, func(r *api.JobRecord) bool {
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
		case r.Spec.Module != "" && !n.moduleHeld(r.Spec.Module):
			why = fmt.Sprintf(errResumeModule, r.Spec.Module)
		}
		if why != "" {
			resumable = false
			now := time.Now()
			r.Outcome = &job.Outcome{
				Job: r.ID, State: job.StateFailed, ExitCode: -1, Error: why, Attempts: r.Attempted,
				Timings: job.Timings{Total: ms(now.Sub(r.Submitted))},
			}
			r.State, r.Finished = job.StateFailed, now
			log.Warnf("job %s: %s", r.ID, why)
		}
		return true
	})
	return resumable
}

func (n *Node) moduleHeld(c string) bool {
	id, err := job.ParseCID(c)
	return err == nil && n.store.Has(id)
}

// startResumes dispatches the unfinished jobs found at start again, each in
// a goroutine the node owns (Close stops them).
func (n *Node) startResumes() {
	for _, id := range n.resumable {
		n.spawn(func() {
			if err := n.resume(id); err != nil {
				log.Warnf("resuming job %s: %v", id, err)
			}
		})
	}
	n.resumable = nil
}

// resume rebuilds a job's submission from its record and dispatches it
// again: same ID and nonce, the original submit time, attempt numbers going
// on.
func (n *Node) resume(id string) error {
	r, err := n.journal.get(id)
	if err != nil {
		return err
	}
	spec := r.Spec
	sub := Submission{Spec: &spec, BidWindow: time.Duration(r.BidWindowMS) * time.Millisecond}
	if r.DeadlineMS > 0 {
		sub.Deadline = time.UnixMilli(r.DeadlineMS)
	}
	if spec.Module != "" {
		c, err := job.ParseCID(spec.Module)
		if err != nil {
			return err
		}
		if sub.Module, err = n.store.Get(c); err != nil {
			return err
		}
	}
	wctx, cancel := context.WithTimeout(n.ctx, resumeWaitProviders)
	err = n.mesh.WaitProviders(wctx, 1)
	cancel()
	if n.ctx.Err() != nil {
		return nil // closing: the job stays unfinished for the next start
	}
	if err != nil {
		log.Infof("resuming job %s: no provider on the jobs topic yet; auctioning anyway", id)
	}
	log.Infof("resuming job %s after a restart (attempts so far: %d)", id, r.Attempted)
	t := &ticket{id: r.ID, nonce: r.Nonce, sub: sub, start: r.Submitted, attempts: r.Attempted}
	_, err = n.dispatch(n.ctx, t, nil)
	if n.ctx.Err() != nil {
		return nil
	}
	return err
}

// jobTrack keeps one dispatch's job record up to date from the events the
// dispatch emits. A nil *jobTrack (a node without a data dir) does nothing.
type jobTrack struct {
	n  *Node
	id string
}

// track returns the record keeper of a dispatch: the record is created
// (and the module put in the content store) for a new submission, and
// taken up again for a resumed one.
func (n *Node) track(t *ticket) *jobTrack {
	if n.journal == nil {
		return nil
	}
	jt := &jobTrack{n: n, id: t.id}
	known := false
	n.journal.update(t.id, func(*api.JobRecord) bool { known = true; return false })
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
	if s.Module != "" && len(t.sub.Module) > 0 {
		c, err := n.store.Put(t.sub.Module, cid.Raw)
		switch {
		case err != nil:
			log.Warnf("job %s: keeping its module: %v (the job cannot be resumed after a restart)", t.id, err)
		case c.String() != s.Module:
			log.Warnf("job %s: its module is stored as %s, the spec names %s", t.id, c, s.Module)
		default:
			if err := syncDir(n.store.Dir()); err != nil {
				log.Warnf("job %s: syncing the store: %v", t.id, err)
			}
			r.ModuleStored = true
		}
	}
	n.journal.create(r)
	return jt
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
	closing := jt.n.ctx.Err() != nil
	jt.n.journal.update(jt.id, func(r *api.JobRecord) bool {
		return applyEvent(r, e, time.Now(), closing)
	})
}

// applyEvent applies one event to the record at now, and reports whether
// the change is worth writing at once.
func applyEvent(r *api.JobRecord, e job.Event, now time.Time, closing bool) bool {
	switch e.Kind {
	case job.EventCandidates, job.EventBid, job.EventDecline, job.EventClosed, job.EventRejected, job.EventWaiting:
		return observeRound(r, e, now, closing)
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
				b.Price, b.Queue = e.Price, e.Count
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
	closing := jt.n.ctx.Err() != nil
	jt.n.journal.update(jt.id, func(r *api.JobRecord) bool {
		now := time.Now()
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
		return true
	})
}

// Jobs lists the jobs this node submitted that its data dir keeps, newest
// first (none for a node without a data dir).
func (n *Node) Jobs() []api.JobSummary {
	if n.journal == nil {
		return []api.JobSummary{}
	}
	return n.journal.list()
}

// Job returns the record of a job this node submitted, by ID, unique ID
// prefix, or the "prefix…suffix" short form.
func (n *Node) Job(ref string) (*api.JobRecord, error) {
	if n.journal == nil {
		return nil, fmt.Errorf("%w: %s (a node without a data dir keeps no job records)", ErrUnknownJob, ref)
	}
	return n.journal.get(ref)
}
