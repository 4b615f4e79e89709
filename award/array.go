package award

import (
	"errors"
	"fmt"
	"slices"

	"github.com/computemesh/computemesh/job"
)

// ErrBreach matches the error of a Call whose provider broke the award
// protocol for a job array's slice: a result for a task outside its slice,
// a second result for one task, or a charge over what the slice's
// authorisation allows for a task. The client refuses the rest of the
// slice and names the provider.
var ErrBreach = errors.New("breach of the award protocol")

// TaskResult sends the result of one task of the award's slice (a job
// array), in order with the heartbeats; the stream stays open for the
// other tasks' results and then the receipt (Begin first). Safe for
// concurrent use.
func (ss *Session) TaskResult(res *job.Result) error {
	return ss.send(job.Reply{Type: job.ReplyResult, Result: res})
}

// TaskResults follows the provider's replies to a job array's award until
// every task of its slice has a result: accepted (or queued, with
// heartbeats), then a result per task in any order, each handed to
// onResult as it comes. perTask is the most one task may charge (the
// award's pay); a result for a task outside the slice, a second result for
// one task, or a charge over perTask is an error matching ErrBreach that
// names the provider. On any error the results already handed over stand;
// the tasks without one are the caller's to place elsewhere.
func (c *Call) TaskResults(perTask job.Credits, onResult func(*job.Result)) error {
	if err := c.awaitAcceptance(); err != nil {
		return err
	}
	left := len(c.a.Tasks)
	seen := make(map[int]bool, left)
	for left > 0 {
		res, err := c.nextTaskResult()
		if err != nil {
			return fmt.Errorf("waiting for the results (%d of %d tasks left): %w", left, len(c.a.Tasks), err)
		}
		if err := c.checkTaskResult(res, perTask, seen); err != nil {
			return err
		}
		seen[res.Task] = true
		left--
		onResult(res)
	}
	return nil
}

// nextTaskResult reads replies until the next result.
func (c *Call) nextTaskResult() (*job.Result, error) {
	for {
		var reply job.Reply
		if err := c.readReply(&reply); err != nil {
			return nil, err
		}
		switch reply.Type {
		case job.ReplyHeartbeat, job.ReplyLog:
			continue
		case job.ReplyResult:
			return reply.Result, nil
		default:
			return nil, fmt.Errorf("unexpected reply %q instead of a task's result", reply.Type)
		}
	}
}

// checkTaskResult checks one task's result against the slice.
func (c *Call) checkTaskResult(res *job.Result, perTask job.Credits, seen map[int]bool) error {
	p := c.a.Bid.Provider
	switch {
	case res.Job != c.a.Job || res.Provider != p:
		return fmt.Errorf("%w: provider %s: a result for job %s from %s does not match the award", ErrBreach, p, res.Job, res.Provider)
	case !inSlice(c.a.Tasks, res.Task):
		return fmt.Errorf("%w: provider %s: a result for task %d, outside its slice of %d tasks", ErrBreach, p, res.Task, len(c.a.Tasks))
	case seen[res.Task]:
		return fmt.Errorf("%w: provider %s: a second result for task %d", ErrBreach, p, res.Task)
	case res.Charge > perTask:
		return fmt.Errorf("%w: provider %s: task %d charges %s, over the %s a task of its slice is authorised (%s for %d tasks)",
			ErrBreach, p, res.Task, res.Charge, perTask, job.SliceMax(perTask, len(c.a.Tasks)), len(c.a.Tasks))
	}
	return nil
}

// inSlice reports whether task is in tasks (strictly increasing, as
// job.Award.Validate requires).
func inSlice(tasks []int, task int) bool {
	_, ok := slices.BinarySearch(tasks, task)
	return ok
}
