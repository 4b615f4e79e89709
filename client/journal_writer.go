package client

import (
	"errors"
	"io/fs"
	"os"

	"github.com/computemesh/computemesh/internal/atomicfile"
)

// The journal writes its records in the background, in batches (a group
// commit): each record's file is written whole and synced, then renamed
// over the old one, and the directory is synced once for the batch. An
// update that comes while a batch is written joins the next one, and a
// record changed twice in between is written once. A job's last write (its
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

// writeBatch writes what is pending, if anything (reporting whether there
// was).
func (j *journal) writeBatch() bool {
	j.mu.Lock()
	if len(j.pending) == 0 && len(j.removals) == 0 {
		j.mu.Unlock()
		return false
	}
	gen, pending, removals := j.gen, j.pending, j.removals
	j.pending, j.removals = map[string][]byte{}, nil
	j.mu.Unlock()

	changed := len(removals) > 0
	for id, b := range pending {
		path := j.path(id)
		if err := atomicfile.WriteFile(path, b, 0o600, atomicfile.TempPrefix(recordTmpPrefix), atomicfile.NoDirSync()); err != nil {
			j.log.Errorf("job record %s: %v", path, err)
			continue
		}
		changed = true
	}
	for _, id := range removals {
		j.remove(id)
	}
	if changed {
		if err := syncDir(j.dir); err != nil {
			j.log.Errorf("job records: %v", err)
		}
	}
	j.mu.Lock()
	j.durable = max(j.durable, gen)
	j.flushed.Broadcast()
	j.mu.Unlock()
	return true
}

// remove removes a pruned record's file.
func (j *journal) remove(id string) {
	if err := os.Remove(j.path(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		j.log.Warnf("pruning job record %s: %v", j.path(id), err)
	}
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
