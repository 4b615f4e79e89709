package client

import (
	"fmt"
	"maps"
	"path/filepath"

	"github.com/computemesh/computemesh/api"
)

// The journal writes its records in the background, in batches (a group
// commit): the batch's entries are appended to the log in one write and
// synced once. An update that comes while a batch is written joins the
// next one, and a record changed twice in between is written once; a job
// array's task results join the batches in entries of their own
// (journal_tasks.go), so that a task's end is durable within a batch
// without its record being written again. A job's last write (its
// outcome) is durable before the client reports the outcome (sync); the
// writes before it may be lost in a crash, which leaves the record as it
// was (a job not yet recorded was not acknowledged either: its submission
// returns only with the outcome).

// writeLoop writes batches until the journal closes, then writes what is
// left and stops.
func (j *journal) writeLoop() {
	defer func() {
		j.mu.Lock()
		j.stopped = true
		j.flushed.Broadcast()
		j.mu.Unlock()
		j.fileMu.Lock()
		if err := j.file.Close(); err != nil {
			j.log.Errorw("job records: closing", "err", err)
		}
		j.file = nil
		j.fileMu.Unlock()
		close(j.exited)
	}()
	for {
		select {
		case <-j.wake:
			for j.writeBatch() {
			}
		case <-j.stop:
			for j.writeBatch() {
			}
			return
		}
	}
}

// writeBatch appends what is pending to the log, if anything (reporting
// whether there was). On a failure (disk full, ...) the log is cut back and
// the records stay pending for the next batch.
func (j *journal) writeBatch() bool {
	j.mu.Lock()
	if len(j.pending) == 0 && len(j.removals) == 0 && len(j.tasks.queued) == 0 {
		j.mu.Unlock()
		return false
	}
	gen, queued, removals, size := j.gen, j.pending, j.removals, j.size
	j.pending, j.removals = map[string]*api.JobRecord{}, nil
	tasks := j.takeTasksLocked()
	pending := make(map[string][]byte, len(queued))
	var finished []string
	for id, r := range queued { // each record once, however often it changed since the last batch
		pending[id] = encodeRecordEntry(r)
		if r.Done() {
			finished = append(finished, id)
		}
	}
	j.mu.Unlock()

	var buf []byte
	spans := make(map[string]span, len(pending))
	for id, b := range pending {
		off := size + int64(len(buf))
		buf = appendEntry(buf, entryRecord, b)
		spans[id] = span{off: off, n: int(size + int64(len(buf)) - off)}
	}
	buf, taskSpans := appendTaskEntries(buf, size, tasks)
	for _, id := range removals {
		buf = appendEntry(buf, entryRemove, []byte(id))
	}
	err := j.appendLog(buf, size)
	j.mu.Lock()
	if err != nil {
		j.log.Errorw("job records: writing (the records are kept for the next write)", "path", filepath.Join(j.dir, logName), "count", len(pending), "err", err)
		for id, r := range queued {
			if _, newer := j.pending[id]; !newer && (j.active[id] != nil || j.hasDone(id)) {
				j.pending[id] = r
			}
		}
		j.removals = append(removals, j.removals...)
		j.requeueTasksLocked(tasks)
	} else {
		j.size = size + int64(len(buf))
		for id, sp := range spans {
			j.index[id] = sp
		}
		for _, id := range removals {
			delete(j.index, id)
		}
		j.tasksWrittenLocked(taskSpans, finished, removals)
	}
	j.durable = max(j.durable, gen)
	j.flushed.Broadcast()
	compact := err == nil && j.size > j.compactAt && j.size > compactRatio*j.liveLocked()
	j.mu.Unlock()
	if compact {
		j.compact()
	}
	return true
}

// hasDone reports whether id is a finished record still kept. j.mu held.
func (j *journal) hasDone(id string) bool {
	_, ok := j.done[id]
	return ok
}

// appendLog writes buf at the log's end (size) and syncs it; on a failure
// it cuts the log back to size.
func (j *journal) appendLog(buf []byte, size int64) error {
	_, err := j.file.WriteAt(buf, size)
	if err == nil {
		err = j.file.Sync()
	}
	if err != nil {
		if terr := j.file.Truncate(size); terr != nil {
			err = fmt.Errorf("%w; cutting the log back to %d bytes: %v", err, size, terr)
		}
	}
	return err
}

// liveLocked is the bytes the latest entries of the kept records take,
// and the task results of the unfinished arrays. j.mu held.
func (j *journal) liveLocked() int64 {
	var n int64
	for _, sp := range j.index {
		n += int64(sp.n)
	}
	for _, sps := range j.tasks.spans {
		for _, sp := range sps {
			n += int64(sp.n)
		}
	}
	return n
}

// compact copies the latest entries of the kept records into a new log
// that replaces the old one (see compactLog). A failure leaves the old log
// in use.
func (j *journal) compact() {
	j.fileMu.Lock()
	defer j.fileMu.Unlock()
	j.mu.Lock()
	live := liveEntries{records: maps.Clone(j.index), tasks: maps.Clone(j.tasks.spans)}
	j.mu.Unlock()
	f, size, moved, err := compactLog(j.dir, j.file, live)
	if err != nil {
		j.log.Warnw("job records: compacting", "path", filepath.Join(j.dir, logName), "err", err)
		return
	}
	old := j.file
	j.mu.Lock()
	j.file, j.size, j.index, j.tasks.spans = f, size, moved.records, moved.tasks
	j.mu.Unlock()
	_ = old.Close()
}

// sync waits until every write asked for so far is on disk (or the journal
// has stopped writing).
func (j *journal) sync() {
	j.mu.Lock()
	defer j.mu.Unlock()
	gen := j.gen
	for j.durable < gen && !j.stopped {
		j.flushed.Wait()
	}
}
