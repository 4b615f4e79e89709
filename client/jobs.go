package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/computemesh/computemesh/job"
)

// Limits of what a client node remembers of its jobs for `logs` and
// `cancel`.
const (
	jobEventsKept   = 2048 // events per job (oldest dropped first)
	finishedKept    = 256  // finished jobs remembered
	finishedKeptFor = time.Hour
)

// ErrUnknownJob means this node has no job by that ID.
var ErrUnknownJob = errors.New("no such job on this node")

// clientJob is a job this node submitted: its events so far (for `logs`),
// who follows them, and how to cancel it.
type clientJob struct {
	cancel context.CancelFunc

	mu       sync.Mutex
	events   []job.Event
	subs     map[chan job.Event]struct{}
	done     bool
	finished time.Time
}

type jobRegistry struct {
	mu   sync.Mutex
	jobs map[string]*clientJob
}

func (r *jobRegistry) add(id string, cancel context.CancelFunc) *clientJob {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.jobs == nil {
		r.jobs = map[string]*clientJob{}
	}
	// Forget finished jobs beyond the limits.
	var finished int
	for k, j := range r.jobs {
		j.mu.Lock()
		if j.done {
			finished++
			if time.Since(j.finished) > finishedKeptFor || finished > finishedKept {
				delete(r.jobs, k)
			}
		}
		j.mu.Unlock()
	}
	j := &clientJob{cancel: cancel, subs: map[chan job.Event]struct{}{}}
	r.jobs[id] = j
	return j
}

// live returns a job this node runs or ran lately (its events are kept)
// by its ID, short form or unique prefix (resolveJob).
func (c *Client) live(ref string) (string, *clientJob, error) {
	if j := c.jobs.get(ref); j != nil {
		return ref, j, nil
	}
	id, err := resolveJob(ref, c.jobs.ids())
	if err != nil {
		return "", nil, err
	}
	j := c.jobs.get(id)
	if j == nil { // forgotten meanwhile
		return "", nil, fmt.Errorf("%w: %s", ErrUnknownJob, ref)
	}
	return id, j, nil
}

// ids returns the IDs of the jobs the registry holds.
func (r *jobRegistry) ids() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.jobs))
	for id := range r.jobs {
		out = append(out, id)
	}
	return out
}

func (r *jobRegistry) get(id string) *clientJob {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.jobs[id]
}

// record keeps an event and hands it to the followers (a follower too slow
// to keep up misses events rather than slowing the job).
func (j *clientJob) record(e job.Event) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.events) >= jobEventsKept {
		j.events = append(j.events[:0], j.events[len(j.events)-jobEventsKept/2:]...)
	}
	j.events = append(j.events, e)
	for ch := range j.subs {
		select {
		case ch <- e:
		default:
		}
	}
	if e.Kind == job.EventDone {
		j.finish()
	}
}

// close finishes j, taking its lock (a dispatch's last step).
func (j *clientJob) close() {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.finish()
}

func (j *clientJob) finish() {
	if j.done {
		return
	}
	j.done, j.finished = true, time.Now()
	for ch := range j.subs {
		close(ch)
	}
	j.subs = nil
}

// Cancel stops a job this node submitted: the award stream is reset, and
// the provider stops the run.
func (c *Client) Cancel(ref string) error {
	id, j, err := c.live(ref)
	if err != nil {
		return err
	}
	j.mu.Lock()
	done := j.done
	j.mu.Unlock()
	if done {
		return fmt.Errorf("job %s has already ended", id)
	}
	j.cancel()
	return nil
}

// Events returns a job's events so far and, with follow, a channel of those
// to come (closed when the job ends; nil when it has ended already).
func (c *Client) Events(ref string, follow bool) ([]job.Event, <-chan job.Event, func(), error) {
	_, j, err := c.live(ref)
	if err != nil {
		return nil, nil, nil, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	past := append([]job.Event(nil), j.events...)
	if !follow || j.done {
		return past, nil, func() {}, nil
	}
	ch := make(chan job.Event, 256)
	j.subs[ch] = struct{}{}
	stop := func() {
		j.mu.Lock()
		defer j.mu.Unlock()
		if _, ok := j.subs[ch]; ok {
			delete(j.subs, ch)
			close(ch)
		}
	}
	return past, ch, stop, nil
}
