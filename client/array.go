package client

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/computemesh/computemesh/content"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/scheduler"
)

// maxTaskAttempts is how many awards may carry one task whose provider
// could not run it (a provider error) before the task fails.
const maxTaskAttempts = 3

// arrayRun is a job array under way: its tasks by index, those still to
// place, and the providers it no longer awards (their slice failed); jt
// keeps each task's end in the job's record (nil: no record).
type arrayRun struct {
	mu       sync.Mutex
	s        *job.Spec
	tasks    []job.TaskResult
	pending  []int // indices still to place, increasing
	excluded map[string]string
	jt       *jobTrack
}

// newArrayRun starts an array whose tasks in done have their results
// already (kept in its record before a restart): only the others are
// placed.
func newArrayRun(s *job.Spec, done []job.TaskResult, jt *jobTrack) *arrayRun {
	a := &arrayRun{s: s, tasks: make([]job.TaskResult, s.Count), excluded: map[string]string{}, jt: jt}
	kept := make([]bool, s.Count)
	for _, t := range done {
		if t.Index >= 0 && t.Index < s.Count && !kept[t.Index] {
			a.tasks[t.Index], kept[t.Index] = t, true
		}
	}
	for i := range a.tasks {
		if !kept[i] {
			a.tasks[i] = job.TaskResult{Index: i, ExitCode: -1}
			a.pending = append(a.pending, i)
		}
	}
	return a
}

// takePending hands the pending tasks to a round.
func (a *arrayRun) takePending() []int {
	a.mu.Lock()
	defer a.mu.Unlock()
	p := a.pending
	a.pending = nil
	return p
}

// requeue puts tasks back to be placed again.
func (a *arrayRun) requeue(tasks ...int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pending = append(a.pending, tasks...)
	slices.Sort(a.pending)
}

// awarded counts an award that carries tasks.
func (a *arrayRun) awarded(tasks []int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, t := range tasks {
		a.tasks[t].Attempts++
	}
}

// exclude keeps provider out of the array's next rounds.
func (a *arrayRun) exclude(provider, why string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.excluded[provider] = why
}

// eligible is ranked without the excluded providers.
func (a *arrayRun) eligible(ranked []scheduler.Option) []scheduler.Option {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.DeleteFunc(slices.Clone(ranked), func(o scheduler.Option) bool {
		_, out := a.excluded[o.Bid.Provider]
		return out
	})
}

// endPending ends every pending task in state st with why.
func (a *arrayRun) endPending(st job.State, why string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, i := range a.pending {
		a.tasks[i].State, a.tasks[i].Error = st, why
	}
	a.pending = nil
}

// dispatchArray places and runs a job array: an auction for its pending
// tasks, a slice to each winner as scheduler.Allocate splits them, the
// slices run at once; the tasks of a slice whose provider failed, died or
// broke the protocol go back, and to a new auction among the others as
// soon as that slice ends, while the other slices run on. With no
// feasible bid and no slice running it waits as dispatch does. The
// outcome has a result per task.
func (c *Client) dispatchArray(ctx context.Context, t *ticket, progress Progress) (*job.Outcome, error) {
	if progress == nil {
		progress = func(job.Event) {}
	}
	s, id := t.sub.Spec, t.id
	out := &job.Outcome{Job: id, Attempts: t.attempts}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	reg := c.jobs.add(id, cancel)
	defer reg.close()
	emit, finishJob := c.jobEvents(t, reg, out, progress)
	if err := c.mesh.OnBid(c.onBid); err != nil {
		return nil, err
	}
	if s.Module != "" {
		c.blobs.Put(s.Module, t.sub.Module, true)
		defer c.blobs.Unpin(s.Module)
	}
	arr := newArrayRun(s, t.done, c.track(t))
	sl := &inFlight{ends: make(chan struct{}, s.Count)}
	defer sl.drain(cancel)          // a node closing returns with slices running
	finish := func() *job.Outcome { // the outcome from the tasks, then the job's end
		arr.summarise(out)
		if !sl.start.IsZero() {
			out.Timings.Run = ms(time.Since(sl.start))
		}
		return finishJob()
	}
	backoff := waitBackoffMin
	for {
		if arr.left() > 0 && ctx.Err() == nil {
			r, err := c.slottedAuction(ctx, t, out, emit)
			if err != nil {
				return nil, err
			}
			if ranked := arr.eligible(r.ev.Ranked); len(ranked) > 0 {
				c.startSlices(ctx, t, ranked, arr, out, emit, sl)
				backoff = waitBackoffMin
			} else if sl.running == 0 && ctx.Err() == nil {
				if c.arrayWait(ctx, t, r, arr, c.arrayUnplaced(ctx, s, r), &backoff, emit) {
					return finish(), nil
				}
				continue
			}
		}
		if sl.running == 0 {
			if arr.left() == 0 || ctx.Err() != nil {
				arr.endPending(job.StateCancelled, "cancelled")
				return finish(), nil
			}
			continue
		}
		<-sl.ends // a slice ended: its failed tasks, if any, go to the next auction
		sl.running--
	}
}

// inFlight are the slices of an array in flight: each one's end is sent on
// ends (buffered for every slice there can be).
type inFlight struct {
	ends    chan struct{}
	running int
	start   time.Time // the first slice's
}

// drain cancels and waits for the slices still running.
func (sl *inFlight) drain(cancel context.CancelFunc) {
	cancel()
	for ; sl.running > 0; sl.running-- {
		<-sl.ends
	}
}

// arrayUnplaced says why a round placed none of an array's tasks.
func (c *Client) arrayUnplaced(ctx context.Context, s *job.Spec, r *round) string {
	if len(r.ev.Ranked) > 0 {
		return "the only bidders are providers whose slice failed"
	}
	return c.unscheduled(ctx, s, r)
}

// arrayWait waits before the next auction of an array with pending tasks
// and no slice running, as dispatch waits for a job: until the deadline,
// or while the mesh is busy, with backoff; an array whose slices failed
// tries the others for as long as a busy mesh is waited out. It reports
// whether the array ends instead (its pending tasks ended unscheduled, or
// cancelled).
func (c *Client) arrayWait(ctx context.Context, t *ticket, r *round, arr *arrayRun, why string, backoff *time.Duration, emit func(job.Event)) bool {
	until, busy := c.waitUntil(t, r)
	if len(r.ev.Ranked) > 0 && until.IsZero() {
		until = t.start.Add(c.busyWait()) // failed providers, not a mesh that cannot serve: try the others a while
	}
	if until.IsZero() || c.now().Add(*backoff).After(until) {
		if busy {
			why += fmt.Sprintf(" (the mesh stayed busy for %v)", c.busyWait())
		}
		arr.endPending(job.StateUnscheduled, why)
		return true
	}
	emit(job.Event{Kind: job.EventWaiting, Message: fmt.Sprintf("%s; next auction in %v", why, *backoff)})
	if err := c.sleep(ctx, *backoff); err != nil {
		arr.endPending(job.StateCancelled, "cancelled while waiting for a provider")
		return true
	}
	*backoff = min(2**backoff, waitBackoffMax)
	return false
}

// startSlices splits the pending tasks over ranked and starts a slice for
// each winner; each slice's end is sent on sl.ends.
func (c *Client) startSlices(ctx context.Context, t *ticket, ranked []scheduler.Option, arr *arrayRun, out *job.Outcome, emit func(job.Event), sl *inFlight) {
	pending := arr.takePending()
	alloc := scheduler.Allocate(ranked, len(pending))
	if sl.start.IsZero() {
		sl.start = time.Now()
	}
	off := 0
	for i, n := range alloc {
		if n == 0 {
			continue
		}
		tasks := pending[off : off+n]
		off += n
		sl.running++
		go func() {
			defer func() { sl.ends <- struct{}{} }()
			c.runSlice(ctx, t, ranked, i, tasks, arr, out, emit)
		}()
	}
}

// summarise sets the outcome of an array from its tasks: completed when
// every task completed, cancelled when it was cancelled, unscheduled when
// no task was placed, else failed; the charge is the tasks' sum.
func (a *arrayRun) summarise(out *job.Outcome) {
	a.mu.Lock()
	defer a.mu.Unlock()
	out.Tasks, out.Charge = a.tasks, 0
	n := job.TaskCounts(a.tasks)
	for _, t := range a.tasks {
		out.Charge += t.Charge
	}
	out.ExitCode = 0
	switch {
	case n[job.StateCompleted] == len(a.tasks):
		out.State, out.Error = job.StateCompleted, ""
		return
	case n[job.StateCancelled] > 0: // the submitter cancelled it
		out.State = job.StateCancelled
	case n[job.StateUnscheduled] == len(a.tasks):
		out.State = job.StateUnscheduled
	default:
		out.State = job.StateFailed
	}
	out.ExitCode = -1
	var parts []string
	for _, st := range []job.State{job.StateFailed, job.StateTimeout, job.StateUnscheduled, job.StateCancelled} {
		if n[st] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[st], st))
		}
	}
	first := ""
	for _, t := range a.tasks {
		if t.State != job.StateCompleted && t.Error != "" {
			first = fmt.Sprintf("; task %d: %s", t.Index, t.Error)
			break
		}
	}
	out.Error = fmt.Sprintf("%d of %d tasks completed, %s%s", n[job.StateCompleted], len(a.tasks), strings.Join(parts, ", "), first)
}

// taskEnded records a task's result from provider. A provider error puts
// the task back (until maxTaskAttempts); otherwise the task ends as a
// job would (its outputs fetched to this node), and its end goes into the
// job's record, so that a restart does not run it again — unless fetching
// its outputs failed because the array was cancelled or its node is
// closing: it runs again when the array resumes.
func (c *Client) taskEnded(ctx context.Context, arr *arrayRun, provider string, res *job.Result) {
	cut := job.TaskOutputCut(arr.s.Count)
	arr.mu.Lock()
	tr := &arr.tasks[res.Task]
	tr.Provider, tr.Charge, tr.ExitCode, tr.RunMS = provider, res.Charge, res.ExitCode, res.RunMS
	tr.Stdout, tr.Stderr = job.CutOutput(res.Stdout, cut), job.CutOutput(res.Stderr, cut)
	if res.Error != "" {
		tr.Error, tr.Charge = "provider error: "+res.Error, 0
		if tr.Attempts < maxTaskAttempts {
			arr.pending = append(arr.pending, res.Task)
			slices.Sort(arr.pending)
			arr.mu.Unlock()
			return
		}
		tr.State = job.StateFailed
		ended := *tr
		arr.mu.Unlock()
		arr.jt.task(ended)
		return
	}
	arr.mu.Unlock()
	st, why, outputs := taskState(arr.s, res)
	keep := true
	if res.Outputs != "" && st == job.StateCompleted || res.Outputs != "" && res.ExitCode != 0 {
		fetch := c.content.Fetch
		if arr.s.Publish {
			fetch = c.content.FetchFrom // every block from the provider: see publishOutputs
		}
		if err := fetch(ctx, mustPeer(provider), res.Outputs, content.OutputsBudget(arr.s.Resources.DiskBytes)); err != nil {
			st, why, outputs = job.StateFailed, "fetching the outputs: "+err.Error(), ""
			keep = ctx.Err() == nil && c.ctx.Err() == nil
		} else if arr.s.Publish {
			c.publishOutputs(ctx, arr.s, res.Outputs)
		}
	}
	arr.mu.Lock()
	tr.State, tr.Error, tr.Outputs = st, why, outputs
	ended := *tr
	arr.mu.Unlock()
	if keep {
		arr.jt.task(ended)
	}
}

// taskState is a task's state from its result, as settle gives a job's.
func taskState(s *job.Spec, res *job.Result) (job.State, string, string) {
	switch {
	case res.TimedOut:
		return job.StateTimeout, fmt.Sprintf("the task ran past its timeout of %v", s.Timeout()), ""
	case res.MemoryExceeded:
		return job.StateFailed, fmt.Sprintf("memory limit exceeded (%s; exit code %d)", job.FormatSize(s.Resources.MemoryBytes), res.ExitCode), ""
	case res.DiskExceeded:
		return job.StateFailed, "disk limit exceeded: the task's outputs reached resources.disk or the provider's limit", ""
	case res.ExitCode != 0:
		return job.StateFailed, fmt.Sprintf("the task exited with code %d", res.ExitCode), res.Outputs
	}
	return job.StateCompleted, "", res.Outputs
}

// left is how many tasks wait to be placed.
func (a *arrayRun) left() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.pending)
}
