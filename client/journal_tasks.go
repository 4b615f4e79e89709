package client

import (
	"fmt"
	"slices"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/job"
)

// A job array's task results go into the journal's log as they end, apart
// from the job's record: an entry of type entryTasks holds results of one
// array that ended since the writer's previous batch (at most
// tasksPerEntry of them), so that a 10,000-task array writes each task's
// result once, in the batches of the group commit, and never its whole
// record per task. Reading the log gathers an unfinished array's task
// entries into its record (api.JobRecord.Tasks), a later result of an
// index replacing an earlier one; a finished array's are superseded by its
// outcome (which holds every task), and compaction leaves them out.

const (
	entryTasks       = 't'
	tasksPerEntry    = 1024
	taskEntryVersion = 1
	// taskOutputMax bounds a task's stdout and stderr in an entry: the
	// outcome's cut (job.TaskOutputCut, at most 4 KiB) and its marker.
	taskOutputMax = 8 << 10
)

// taskLog is the journal's side of the task results: those the writer has
// yet to write, and where the unfinished arrays' entries lie in the log
// (for compaction). Guarded by journal.mu.
type taskLog struct {
	queued map[string][]job.TaskResult
	spans  map[string][]span
}

// mergeTasks adds tasks to r's task results: in index order, a later
// result of an index replacing an earlier one, those past the array's
// count left out (it reports how many).
func mergeTasks(r *api.JobRecord, tasks []job.TaskResult) (dropped int) {
	all := append(slices.Clip(r.Tasks), tasks...)
	slices.SortStableFunc(all, func(a, b job.TaskResult) int { return a.Index - b.Index })
	out := all[:0]
	for _, t := range all {
		switch {
		case t.Index >= r.Spec.Count:
			dropped++
		case len(out) > 0 && out[len(out)-1].Index == t.Index:
			out[len(out)-1] = t
		default:
			out = append(out, t)
		}
	}
	r.Tasks = out
	return dropped
}

// insertTask puts t into tasks (in index order), replacing a result of
// the same index.
func insertTask(tasks []job.TaskResult, t job.TaskResult) []job.TaskResult {
	i, found := slices.BinarySearchFunc(tasks, t.Index, func(a job.TaskResult, index int) int { return a.Index - index })
	if found {
		tasks[i] = t
		return tasks
	}
	return slices.Insert(tasks, i, t)
}

// addTask records the result of a task of array id that ended: in its
// record at once, and in the log with the writer's next batch (sync waits
// for it). Nothing is recorded for a finished record, nor once the
// journal is closed.
func (j *journal) addTask(id string, t job.TaskResult) {
	j.mu.Lock()
	defer j.mu.Unlock()
	r := j.active[id]
	if r == nil || j.closed {
		return
	}
	r.Tasks = insertTask(r.Tasks, t)
	j.tasks.queued[id] = append(j.tasks.queued[id], t)
	j.gen++
	select {
	case j.wake <- struct{}{}:
	default:
	}
}

// takeTasksLocked takes the queued task results of the arrays still
// unfinished for a batch (a finished one's outcome holds them). j.mu held.
func (j *journal) takeTasksLocked() map[string][]job.TaskResult {
	q := j.tasks.queued
	j.tasks.queued = map[string][]job.TaskResult{}
	for id := range q {
		if j.active[id] == nil {
			delete(q, id)
		}
	}
	return q
}

// appendTaskEntries appends the entries of queued to buf, which starts at
// offset base of the log, and returns it with each job's new spans.
func appendTaskEntries(buf []byte, base int64, queued map[string][]job.TaskResult) ([]byte, map[string][]span) {
	spans := make(map[string][]span, len(queued))
	for id, tasks := range queued {
		for chunk := range slices.Chunk(tasks, tasksPerEntry) {
			off := base + int64(len(buf))
			buf = appendEntry(buf, entryTasks, encodeTaskEntry(id, chunk))
			spans[id] = append(spans[id], span{off: off, n: int(base + int64(len(buf)) - off)})
		}
	}
	return buf, spans
}

// tasksWrittenLocked notes a batch's task entries in the log; the entries
// of the arrays the batch finished (or removed) are no longer live. j.mu
// held.
func (j *journal) tasksWrittenLocked(spans map[string][]span, finished, removed []string) {
	for id, sps := range spans {
		j.tasks.spans[id] = append(j.tasks.spans[id], sps...)
	}
	for _, id := range finished {
		delete(j.tasks.spans, id)
	}
	for _, id := range removed {
		delete(j.tasks.spans, id)
	}
}

// requeueTasksLocked puts back the task results of a batch that failed,
// before those queued since, for the arrays still unfinished. j.mu held.
func (j *journal) requeueTasksLocked(queued map[string][]job.TaskResult) {
	for id, tasks := range queued {
		if j.active[id] != nil {
			j.tasks.queued[id] = append(tasks, j.tasks.queued[id]...)
		}
	}
}

// scanTasks applies an entryTasks entry at sp to the log's state.
func (st *logState) scanTasks(payload []byte, sp span) {
	e, err := decodeTaskEntry(payload)
	if err != nil {
		st.bad = append(st.bad, fmt.Errorf("the entry at offset %d: %w", sp.off, err))
		return
	}
	st.tasks[e.Job] = append(st.tasks[e.Job], e.Tasks...)
	st.taskSpans[e.Job] = append(st.taskSpans[e.Job], sp)
}

// gatherTasks puts the task results read into the unfinished records; a
// finished record's (its outcome holds them) and those of records not
// read are no longer live.
func (st *logState) gatherTasks() {
	for id, tasks := range st.tasks {
		r := st.recs[id]
		if r == nil || r.Done() {
			delete(st.taskSpans, id)
			continue
		}
		if n := mergeTasks(r, tasks); n > 0 {
			st.bad = append(st.bad, fmt.Errorf("job %s: %d task results past its %d tasks", id, n, r.Spec.Count))
		}
	}
	st.tasks = nil
}
