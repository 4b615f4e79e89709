package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/computemesh/computemesh/api"
)

// A client node with a data dir keeps a record of every job it submits in
// <data-dir>/jobs/<job-id>.json: one small JSON document per job, replaced
// atomically (temporary file, fsync, rename, fsync of the directory) at
// each state change that matters. One file per job rather than one
// append-only journal: a torn or corrupt write can only ever damage the
// record being written (and then only its temporary file), pruning is
// deleting a file, and no compaction is needed.

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

// validJobID accepts the IDs job.NewID makes (base32 CIDs): lower-case
// letters and digits only, so that an ID is always a safe file name.
func validJobID(id string) bool {
	if len(id) < 8 || len(id) > 128 {
		return false
	}
	for _, r := range id {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// decodeRecord decodes and checks one record file's contents.
func decodeRecord(b []byte) (*api.JobRecord, error) {
	if len(b) == 0 {
		return nil, errors.New("empty file")
	}
	if len(b) > recordMaxSize {
		return nil, fmt.Errorf("%d bytes, limit %d", len(b), recordMaxSize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	var r api.JobRecord
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("decoding: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("decoding: data after the record")
	}
	switch {
	case r.V != recordVersion:
		return nil, fmt.Errorf("v: version %d, want %d", r.V, recordVersion)
	case !validJobID(r.ID):
		return nil, fmt.Errorf("id: %q is not a job ID", r.ID)
	case r.Submitted.IsZero():
		return nil, errors.New("submitted: missing")
	case r.State == "":
		return nil, errors.New("state: missing")
	case r.Attempted < 0 || r.Resumes < 0 || r.RoundsDropped < 0:
		return nil, errors.New("negative count")
	case r.Outcome != nil && r.Outcome.Job != r.ID:
		return nil, fmt.Errorf("outcome: for job %q, not %q", r.Outcome.Job, r.ID)
	}
	return &r, nil
}

func encodeRecord(r *api.JobRecord) []byte {
	b, err := json.MarshalIndent(r, "", " ")
	if err != nil { // a record has no types json cannot encode
		panic(fmt.Sprintf("node: encoding job record: %v", err))
	}
	return append(b, '\n')
}

// journal keeps a client node's job records under its data dir. Records of
// unfinished jobs are held in memory; finished ones only as summaries (their
// files are read when described).
type journal struct {
	dir  string
	keep int // finished records kept
	log  Logger
	now  func() time.Time

	mu     sync.Mutex
	closed bool
	active map[string]*api.JobRecord
	done   map[string]api.JobSummary
	// What the writer has yet to do (journal_writer.go): records to
	// write (their encoding, the latest wins) and files to remove; gen
	// counts the requests, durable the last one on disk.
	pending  map[string][]byte
	removals []string
	gen      uint64
	durable  uint64
	flushed  *sync.Cond // on mu: durable moved, or the writer stopped
	wake     chan struct{}
	stop     chan struct{}
	exited   chan struct{}
	stopped  bool
}

// openJournal opens (creating) the records in dir: stale temporary files
// of interrupted writes are removed, a record that cannot be read is logged
// with its file name, renamed *.corrupt and skipped, and finished records
// beyond keep are pruned. It returns the unfinished records.
func openJournal(dir string, keep int, log Logger, now func() time.Time) (*journal, []*api.JobRecord, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("job records: %w", err)
	}
	if ents, err := os.ReadDir(dir); err == nil {
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), recordTmpPrefix) {
				_ = os.Remove(filepath.Join(dir, e.Name()))
			}
		}
	}
	j := &journal{dir: dir, keep: keep, log: log, now: now, active: map[string]*api.JobRecord{}, done: map[string]api.JobSummary{},
		pending: map[string][]byte{}, wake: make(chan struct{}, 1), stop: make(chan struct{}), exited: make(chan struct{})}
	j.flushed = sync.NewCond(&j.mu)
	recs, errs := loadRecords(dir)
	for _, err := range errs {
		log.Errorf("%v: skipped", err)
		var re *RecordError
		if errors.As(err, &re) {
			if rerr := os.Rename(re.File, re.File+recordCorrupt); rerr != nil {
				log.Warnf("job record %s: setting it aside: %v", re.File, rerr)
			}
		}
	}
	var unfinished []*api.JobRecord
	for _, r := range recs {
		if r.Done() {
			j.done[r.ID] = r.Summary()
		} else {
			j.active[r.ID] = r
			unfinished = append(unfinished, r)
		}
	}
	j.mu.Lock()
	j.pruneLocked()
	removals := j.removals
	j.removals = nil
	j.mu.Unlock()
	for _, id := range removals { // before the journal is used
		j.remove(id)
	}
	j.durable = j.gen // done: nothing for the writer to catch up on
	go j.writeLoop()
	return j, unfinished, nil
}

func (j *journal) path(id string) string { return filepath.Join(j.dir, id+".json") }

// writeLocked has the writer write r's file soon (see journal_writer.go);
// a failure (disk full, ...) is logged and the record kept in memory for
// the next write. Nothing is written once the journal is closed.
func (j *journal) writeLocked(r *api.JobRecord) {
	if j.closed {
		return
	}
	r.Updated = j.now()
	j.pending[r.ID] = encodeRecord(r)
	j.gen++
	select {
	case j.wake <- struct{}{}:
	default:
	}
}

// pruneLocked removes the oldest finished records beyond j.keep.
func (j *journal) pruneLocked() {
	over := len(j.done) - j.keep
	if over <= 0 {
		return
	}
	older := func(a, b api.JobSummary) bool {
		if !a.Finished.Equal(b.Finished) {
			return a.Finished.Before(b.Finished)
		}
		return a.Submitted.Before(b.Submitted)
	}
	var drop []api.JobSummary
	if over == 1 {
		// One over, as after each finished job once the journal is full:
		// the oldest, found in one pass rather than by sorting them all.
		first := true
		var oldest api.JobSummary
		for _, s := range j.done {
			if first || older(s, oldest) {
				oldest, first = s, false
			}
		}
		drop = []api.JobSummary{oldest}
	} else {
		list := make([]api.JobSummary, 0, len(j.done))
		for _, s := range j.done {
			list = append(list, s)
		}
		sort.Slice(list, func(a, b int) bool { return older(list[a], list[b]) })
		drop = list[:over]
	}
	for _, s := range drop {
		// The writer removes the file, after any write of it it has taken.
		delete(j.pending, s.ID)
		j.removals = append(j.removals, s.ID)
		delete(j.done, s.ID)
	}
	j.gen++ // sync waits for the removals too
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
		j.done[id] = r.Summary()
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

// get returns a copy of a job's record by ID or unique ID prefix (or the
// "prefix…suffix" short form the CLI prints).
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
	if b, ok := j.pending[id]; ok { // finished, its last write still queued
		j.mu.Unlock()
		return decodeRecord(b)
	}
	j.mu.Unlock()
	// A batch the writer has taken may not have reached the file yet.
	j.sync()
	r, err := readRecord(j.path(id))
	if err != nil {
		return nil, &RecordError{File: j.path(id), Err: err}
	}
	return r, nil
}

// resolveJob finds the one ID among ids that ref names: the whole ID, a
// prefix of it, or "prefix…suffix".
func resolveJob(ref string, ids []string) (string, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return "", fmt.Errorf("%w: empty job ID", ErrUnknownJob)
	}
	pre, suf, _ := strings.Cut(ref, "…")
	var found []string
	for _, id := range ids {
		if id == ref {
			return id, nil
		}
		if strings.HasPrefix(id, pre) && strings.HasSuffix(id, suf) && len(id) >= len(pre)+len(suf) {
			found = append(found, id)
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("%w: %s", ErrUnknownJob, ref)
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("job %s is ambiguous: %d jobs match", ref, len(found))
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
	dir := filepath.Join(dataDir, JobsDir)
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("job records: %w", err)
	}
	var ids []string
	for _, e := range ents {
		if id, ok := strings.CutSuffix(e.Name(), ".json"); ok && validJobID(id) {
			ids = append(ids, id)
		}
	}
	id, err := resolveJob(ref, ids)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, id+".json")
	r, err := readRecord(path)
	if err != nil {
		return nil, &RecordError{File: path, Err: err}
	}
	return r, nil
}
