package client

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/internal/idref"
	"github.com/computemesh/computemesh/job"
)

// A client node with a data dir keeps a record of every job it submits in
// <data-dir>/jobs/journal.log (journal_log.go): at each state change that
// matters, the job's whole record is appended to the log (a job array's
// task results go in entries of their own: journal_tasks.go), and the
// writer appends what changed in a moment in one write and one fsync (a
// group commit: journal_writer.go). A log rather than a file per job: creating,
// renaming and removing a file for every write cost the client more than a
// third of its CPU at a few hundred jobs a second. Each entry carries a
// checksum, so a crash can only cut the last ones short, and reading stops
// there; the log is compacted when it holds more than four times its live
// records. Record files of older versions (<job-id>.json) are read and
// moved into the log when the journal opens.

// JobsDir is the directory of a data dir that holds the job records.
const JobsDir = "jobs"

// Bounds of the job records.
const (
	FinishedJobsKept = 1000     // finished records kept; the oldest are pruned
	recordVersion    = 1        // api.JobRecord.V
	recordMaxSize    = 16 << 20 // a record file larger than this is corrupt
	recordOutputKept = 64 << 10 // bytes of stdout and of stderr kept in a record
	recordRoundsKept = 50       // auction rounds kept (the oldest dropped first)
	recordBidsKept   = 256      // answers kept per round
	recordTriesKept  = 100      // attempts kept (the oldest dropped first)
	recordTmpPrefix  = ".tmp-"
	recordCorrupt    = ".corrupt"
)

// journal keeps a client node's job records under its data dir. Records of
// unfinished jobs are held in memory; finished ones only as summaries (their
// entries in the log are read when described).
type journal struct {
	dir  string
	keep int // finished records kept
	log  Logger
	now  func() time.Time

	// The log: the writer appends to file and compacts it, holding
	// fileMu to replace it; readers of finished records hold fileMu for
	// reading (fileMu before mu). size and index (each job's latest
	// entry) are guarded by mu.
	fileMu    sync.RWMutex
	file      *os.File
	size      int64
	index     map[string]span
	compactAt int64 // the log is compacted only past this size

	mu     sync.Mutex
	closed bool
	active map[string]*api.JobRecord
	done   map[string]api.JobSummary
	order  doneOrder // done's IDs, oldest first (journal_prune.go)
	// What the writer has yet to do (journal_writer.go): records to
	// write (their encoding, the latest wins) and files to remove; gen
	// counts the requests, durable the last one on disk.
	pending  map[string]*api.JobRecord // to write, encoded by the writer (once per batch)
	tasks    taskLog                   // arrays' task results (journal_tasks.go)
	removals []string
	gen      uint64
	durable  uint64
	flushed  *sync.Cond // on mu: durable moved, or the writer stopped
	wake     chan struct{}
	stop     chan struct{}
	exited   chan struct{}
	stopped  bool
}

// openJournal opens (creating) the records in dir: the log's torn tail,
// if a crash left one, is cut off; an entry or a record file that cannot be
// read is logged and skipped (a file is renamed *.corrupt); record files of
// older versions are moved into the log; finished records beyond keep are
// pruned. It returns the unfinished records.
func openJournal(dir string, keep int, log Logger, now func() time.Time) (*journal, []*api.JobRecord, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("job records: %w", err)
	}
	removeStale(dir)
	f, st, err := openLog(dir, log)
	if err != nil {
		return nil, nil, err
	}
	j := &journal{dir: dir, keep: keep, log: log, now: now, active: map[string]*api.JobRecord{}, done: map[string]api.JobSummary{},
		file: f, size: st.end, index: st.spans, compactAt: compactAbove,
		tasks:   taskLog{queued: map[string][]job.TaskResult{}, spans: st.taskSpans},
		pending: map[string]*api.JobRecord{}, wake: make(chan struct{}, 1), stop: make(chan struct{}), exited: make(chan struct{})}
	j.flushed = sync.NewCond(&j.mu)
	recs := st.recs
	legacy := j.loadLegacy(recs)
	var unfinished []*api.JobRecord
	for _, r := range recs {
		if r.Done() {
			j.addDoneLocked(r.Summary())
		} else {
			j.active[r.ID] = r
			unfinished = append(unfinished, r)
		}
	}
	sort.Slice(unfinished, func(a, b int) bool { return unfinished[a].Submitted.Before(unfinished[b].Submitted) })
	j.mu.Lock()
	for _, r := range legacy {
		j.pending[r.ID] = r
	}
	j.pruneLocked()
	j.mu.Unlock()
	if len(j.pending) > 0 || len(j.removals) > 0 {
		// Before the journal is used: imports and prunes made durable,
		// then the imported files removed.
		if j.writeBatch(); len(legacy) > 0 && len(j.pending) == 0 {
			for _, r := range legacy {
				_ = os.Remove(j.path(r.ID))
			}
			_ = syncDir(dir)
		}
	}
	j.durable = j.gen // done: nothing for the writer to catch up on
	go j.writeLoop()
	return j, unfinished, nil
}

// removeStale removes the temporary files that interrupted writes left.
func removeStale(dir string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), recordTmpPrefix) || e.Name() == logTmpName {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// openLog opens dir's log for appending, cutting off a torn tail, and
// reads it.
func openLog(dir string, log Logger) (*os.File, *logState, error) {
	path := filepath.Join(dir, logName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("job records: %w", err)
	}
	fi, err := f.Stat()
	if err == nil {
		var st *logState
		if st, err = scanLog(f, fi.Size()); err == nil {
			for _, e := range st.bad {
				log.Errorw("job records: an entry skipped", "path", path, "err", e)
			}
			if st.torn > 0 {
				log.Warnw("job records: the last bytes are not whole entries (a write cut short by a crash): dropped", "path", path, "bytes", st.torn)
				if err = f.Truncate(st.end); err == nil {
					err = f.Sync()
				}
			}
			if err == nil {
				return f, st, nil
			}
		}
	}
	f.Close()
	return nil, nil, fmt.Errorf("job records %s: %w", path, err)
}

// loadLegacy reads the record files of older versions that the log does
// not supersede, adds them to recs and returns them; a file that cannot be
// read is logged and renamed *.corrupt.
func (j *journal) loadLegacy(recs map[string]*api.JobRecord) []*api.JobRecord {
	files, errs := loadRecordFiles(j.dir)
	for _, err := range errs {
		j.log.Errorw("job records: a record skipped", "err", err)
		var re *RecordError
		if errors.As(err, &re) {
			if rerr := os.Rename(re.File, re.File+recordCorrupt); rerr != nil {
				j.log.Warnw("job records: setting a record aside", "path", re.File, "err", rerr)
			}
		}
	}
	var out []*api.JobRecord
	for _, r := range files {
		if recs[r.ID] == nil {
			recs[r.ID] = r
			out = append(out, r)
		} else {
			_ = os.Remove(j.path(r.ID)) // superseded by the log
		}
	}
	return out
}

// path is the record file of id in older versions.
func (j *journal) path(id string) string { return filepath.Join(j.dir, id+".json") }

// writeLocked has the writer append r to the log soon (see journal_writer.go);
// a failure (disk full, ...) is logged and the record kept in memory for
// the next write. Nothing is written once the journal is closed.
func (j *journal) writeLocked(r *api.JobRecord) {
	if j.closed {
		return
	}
	r.Updated = j.now()
	j.pending[r.ID] = r
	j.gen++
	select {
	case j.wake <- struct{}{}:
	default:
	}
}

// close writes what is pending and stops every write (those in flight
// have finished when it returns).
func (j *journal) close() {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		<-j.exited
		return
	}
	j.closed = true
	j.mu.Unlock()
	close(j.stop)
	<-j.exited
}

// create records a new job and writes it.
func (j *journal) create(r *api.JobRecord) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.active[r.ID] = r
	j.writeLocked(r)
}

// update changes an unfinished record under the journal's lock, and writes
// it when f says so.
func (j *journal) update(id string, f func(r *api.JobRecord) (write bool)) {
	j.mu.Lock()
	defer j.mu.Unlock()
	r := j.active[id]
	if r == nil {
		return
	}
	if f(r) {
		j.writeLocked(r)
	}
	if r.Done() {
		delete(j.active, id)
		j.addDoneLocked(r.Summary())
		j.pruneLocked()
	}
}

// list returns every job's summary, newest submission first.
func (j *journal) list() []api.JobSummary {
	j.mu.Lock()
	out := make([]api.JobSummary, 0, len(j.active)+len(j.done))
	for _, r := range j.active {
		out = append(out, r.Summary())
	}
	for _, s := range j.done {
		out = append(out, s)
	}
	j.mu.Unlock()
	sortSummaries(out)
	return out
}

func sortSummaries(out []api.JobSummary) {
	sort.SliceStable(out, func(a, b int) bool {
		if !out[a].Submitted.Equal(out[b].Submitted) {
			return out[a].Submitted.After(out[b].Submitted)
		}
		return out[a].ID < out[b].ID
	})
}

// get returns a copy of a job's record by ID, short form or unique prefix
// (resolveJob).
func (j *journal) get(ref string) (*api.JobRecord, error) {
	j.mu.Lock()
	ids := make([]string, 0, len(j.active)+len(j.done))
	for id := range j.active {
		ids = append(ids, id)
	}
	for id := range j.done {
		ids = append(ids, id)
	}
	j.mu.Unlock()
	id, err := resolveJob(ref, ids)
	if err != nil {
		return nil, err
	}
	j.mu.Lock()
	if r := j.active[id]; r != nil {
		b := encodeRecord(r)
		j.mu.Unlock()
		return decodeRecord(b)
	}
	if r, ok := j.pending[id]; ok { // finished, its last write still queued
		b := encodeRecord(r)
		j.mu.Unlock()
		return decodeRecord(b)
	}
	j.mu.Unlock()
	// A batch the writer has taken may not have reached the log yet.
	j.sync()
	j.fileMu.RLock()
	defer j.fileMu.RUnlock()
	j.mu.Lock()
	sp, ok := j.index[id]
	f := j.file
	j.mu.Unlock()
	path := filepath.Join(j.dir, logName)
	if !ok || f == nil {
		return nil, &RecordError{File: path, Err: fmt.Errorf("job %s: its record was not written (see the errors logged)", id)}
	}
	r, err := readRecordAt(f, sp)
	if err != nil {
		return nil, &RecordError{File: path, Err: fmt.Errorf("job %s: %w", id, err)}
	}
	return r, nil
}

// resolveJob finds the one ID among ids that ref names (idref.Resolve:
// the whole ID, its short form, a unique prefix); no match is
// ErrUnknownJob, several are idref.ErrAmbiguous.
func resolveJob(ref string, ids []string) (string, error) {
	id, err := idref.Resolve(ref, ids, "job")
	if errors.Is(err, idref.ErrNoMatch) {
		return "", fmt.Errorf("%w: %w", ErrUnknownJob, err)
	}
	return id, err
}

// ReadJobs reads the job records of a data dir directly (for a node that is
// not running): the summaries, newest first, and the records that could not
// be read. It changes nothing on disk.
func ReadJobs(dataDir string) ([]api.JobSummary, []error) {
	recs, errs := loadRecords(filepath.Join(dataDir, JobsDir))
	out := make([]api.JobSummary, 0, len(recs))
	for _, r := range recs {
		out = append(out, r.Summary())
	}
	sortSummaries(out)
	return out, errs
}

// ReadJob reads one job's record from a data dir directly (see ReadJobs).
func ReadJob(dataDir, ref string) (*api.JobRecord, error) {
	recs, errs := loadRecords(filepath.Join(dataDir, JobsDir))
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.ID
	}
	id, err := resolveJob(ref, ids)
	if err != nil {
		if len(errs) > 0 && errors.Is(err, ErrUnknownJob) {
			return nil, errors.Join(append([]error{err}, errs...)...)
		}
		return nil, err
	}
	for _, r := range recs {
		if r.ID == id {
			return r, nil
		}
	}
	return nil, fmt.Errorf("%w: %s", ErrUnknownJob, ref)
}
