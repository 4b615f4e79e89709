package client

import (
	"container/heap"
	"time"

	"github.com/computemesh/computemesh/api"
)

// doneOrder orders a journal's finished jobs oldest first (finished, then
// submitted), so that pruning past the kept number takes O(log n) per job
// rather than a pass over every finished summary.
type doneOrder []doneEntry

type doneEntry struct {
	id                  string
	finished, submitted time.Time
}

func (o doneOrder) Len() int { return len(o) }
func (o doneOrder) Less(a, b int) bool {
	x, y := &o[a], &o[b]
	if !x.finished.Equal(y.finished) {
		return x.finished.Before(y.finished)
	}
	return x.submitted.Before(y.submitted)
}
func (o doneOrder) Swap(a, b int) { o[a], o[b] = o[b], o[a] }
func (o *doneOrder) Push(x any)   { *o = append(*o, x.(doneEntry)) }
func (o *doneOrder) Pop() any {
	old := *o
	e := old[len(old)-1]
	*o = old[:len(old)-1]
	return e
}

// addDoneLocked records s as finished. j.mu held.
func (j *journal) addDoneLocked(s api.JobSummary) {
	j.done[s.ID] = s
	heap.Push(&j.order, doneEntry{id: s.ID, finished: s.Finished, submitted: s.Submitted})
}

// pruneLocked removes the oldest finished records beyond j.keep.
func (j *journal) pruneLocked() {
	if len(j.done) <= j.keep {
		return
	}
	for len(j.done) > j.keep && j.order.Len() > 0 {
		e := heap.Pop(&j.order).(doneEntry)
		if _, ok := j.done[e.id]; !ok {
			continue
		}
		// The writer appends the removal, after any write of it it has
		// taken.
		delete(j.pending, e.id)
		j.removals = append(j.removals, e.id)
		delete(j.done, e.id)
	}
	j.gen++ // sync waits for the removals too
	select {
	case j.wake <- struct{}{}:
	default:
	}
}
