package client

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/job"
)

// A crash can cut the log's last entry short (or leave garbage after it):
// the journal opens with every whole entry, drops the rest with a warning,
// and appends after the last whole entry.
func TestJournalTornTail(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		tail func(whole []byte) []byte
	}{
		{"half an entry", func(whole []byte) []byte { return whole[:len(whole)/2] }},
		{"a header alone", func(whole []byte) []byte { return whole[:entryHeader] }},
		{"a damaged entry", func(whole []byte) []byte {
			b := bytes.Clone(whole)
			b[len(b)-3] ^= 0xff
			return b
		}},
		{"zeros", func([]byte) []byte { return make([]byte, 4096) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			j, _, err := openTestJournal(t, dir, 10)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 3 {
				j.create(testRecord(i, i == 0))
			}
			j.close()
			path := filepath.Join(dir, logName)
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			torn := tc.tail(appendEntry(nil, entryRecord, encodeRecord(testRecord(9, false))))
			if err := os.WriteFile(path, append(bytes.Clone(before), torn...), 0o600); err != nil {
				t.Fatal(err)
			}
			logs := &recordingLog{}
			j2, unfinished, err := openJournal(dir, 10, logs, time.Now)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(j2.close)
			if len(unfinished) != 2 || len(j2.list()) != 3 {
				t.Fatalf("after the torn tail: %d unfinished, %d listed; want 2 and 3", len(unfinished), len(j2.list()))
			}
			if !strings.Contains(logs.String(), "not whole entries") {
				t.Fatalf("no warning about the torn tail; logged: %s", logs)
			}
			if fi, err := os.Stat(path); err != nil || fi.Size() != int64(len(before)) {
				t.Fatalf("the log was not cut back to its whole entries: %v, %v", fi.Size(), err)
			}
			j2.create(testRecord(5, false))
			j2.sync()
			if disk := onDisk(t, dir); len(disk) != 4 || disk[testJobID(5)] == nil {
				t.Fatalf("after appending past the cut: %d records on disk", len(disk))
			}
		})
	}
}

// Past its threshold, a log holding more than twice its live records is
// compacted: its size falls, and every kept record, finished or not, reads
// the same, before and after reopening.
func TestJournalCompaction(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	j, _, err := openTestJournal(t, dir, 20)
	if err != nil {
		t.Fatal(err)
	}
	j.compactAt = 64 << 10
	const jobs = 40
	for i := range jobs {
		j.create(testRecord(i, false))
	}
	big := strings.Repeat("x", 2000)
	for round := range 30 {
		for i := range jobs {
			j.update(testJobID(i), func(r *api.JobRecord) bool {
				r.Attempted = round + 1
				r.Outcome = nil
				r.Rounds[0].Closed = big
				if round == 29 && i%2 == 0 { // half of them finish
					r.Outcome = &job.Outcome{Job: r.ID, State: job.StateCompleted, Charge: job.Credits(i)}
					r.State, r.Finished = job.StateCompleted, time.Now()
				}
				return true
			})
		}
		j.sync()
	}
	fi, err := os.Stat(filepath.Join(dir, logName))
	if err != nil {
		t.Fatal(err)
	}
	// 40 records of about 2.5 KB each: without compaction the log would
	// hold 30 versions of each.
	if fi.Size() > j.compactAt+compactRatio*int64(jobs*4000) {
		t.Fatalf("log of %d bytes: not compacted", fi.Size())
	}
	check := func(j *journal) {
		t.Helper()
		for i := range jobs {
			r, err := j.get(testJobID(i))
			if err != nil {
				t.Fatalf("record %d: %v", i, err)
			}
			if r.Attempted != 30 || (i%2 == 0) != r.Done() || (r.Done() && r.Outcome.Charge != job.Credits(i)) {
				t.Fatalf("record %d: attempted %d, done %v", i, r.Attempted, r.Done())
			}
		}
	}
	check(j)
	j.close()
	j2, unfinished, err := openTestJournal(t, dir, 20)
	if err != nil {
		t.Fatal(err)
	}
	if len(unfinished) != jobs/2 {
		t.Fatalf("%d unfinished after reopening, want %d", len(unfinished), jobs/2)
	}
	check(j2)
}

// Record files of older versions move into the log when the journal opens,
// and the files go; offline readers see the same records before and after.
func TestJournalMovesRecordFiles(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	dir := filepath.Join(dataDir, JobsDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		writeRecord(t, dir, testRecord(i, i < 3))
	}
	if list, errs := ReadJobs(dataDir); len(list) != 5 || len(errs) != 0 {
		t.Fatalf("before: %d listed, %v", len(list), errs)
	}
	j, unfinished, err := openTestJournal(t, dir, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(unfinished) != 2 {
		t.Fatalf("%d unfinished, want 2", len(unfinished))
	}
	if r, err := j.get(testJobID(1)); err != nil || !r.Done() {
		t.Fatalf("a moved finished record: %v, %v", r, err)
	}
	j.close()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != logName {
		t.Fatalf("after moving: %d entries in the directory, want the log alone", len(ents))
	}
	if list, errs := ReadJobs(dataDir); len(list) != 5 || len(errs) != 0 {
		t.Fatalf("after: %d listed, %v", len(list), errs)
	}
	if r, err := ReadJob(dataDir, testJobID(4)[:16]); err != nil || r.ID != testJobID(4) {
		t.Fatalf("ReadJob after moving: %v", err)
	}
}

// FuzzJournalScanLog checks that reading any log never panics, and that
// whatever it keeps is whole: the entries up to end, which a second scan
// of those bytes alone reads the same.
func FuzzJournalScanLog(f *testing.F) {
	one := appendEntry(nil, entryRecord, encodeRecord(testRecord(1, true)))
	f.Add(one)
	f.Add(appendEntry(bytes.Clone(one), entryRemove, []byte(testJobID(1))))
	f.Add(append(bytes.Clone(one), 0, 0, 0, 9, 1, 2))
	array := testRecord(2, false)
	array.Spec.Count = 4
	tasks := appendEntry(appendEntry(nil, entryRecord, encodeRecord(array)), entryTasks,
		encodeTaskEntry(array.ID, []job.TaskResult{{Index: 1, State: job.StateCompleted}, {Index: 7, State: job.StateFailed}}))
	f.Add(tasks)
	f.Add(appendEntry(bytes.Clone(tasks), entryRemove, []byte(array.ID)))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := scanLog(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatalf("reading from memory: %v", err)
		}
		if st.end+st.torn != int64(len(data)) {
			t.Fatalf("end %d + torn %d != %d bytes", st.end, st.torn, len(data))
		}
		again, err := scanLog(bytes.NewReader(data[:st.end]), st.end)
		if err != nil || again.torn != 0 || len(again.recs) != len(st.recs) {
			t.Fatalf("the whole entries read differently alone: %v", err)
		}
		for id, sp := range st.spans {
			if r, err := readRecordAt(bytes.NewReader(data), sp); err != nil || r.ID != id {
				t.Fatalf("record %s at %+v: %v", id, sp, err)
			}
		}
		for id, sps := range st.taskSpans {
			r := st.recs[id]
			if r == nil || r.Done() {
				t.Fatalf("task entries of job %s live without an unfinished record", id)
			}
			for _, sp := range sps {
				if typ, _, _, err := readEntry(bytes.NewReader(data), sp.off, sp.off+int64(sp.n)); err != nil || typ != entryTasks {
					t.Fatalf("task entry of %s at %+v: %q, %v", id, sp, typ, err)
				}
			}
		}
		for _, r := range st.recs {
			for i, tr := range r.Tasks {
				if tr.Index >= r.Spec.Count || i > 0 && r.Tasks[i-1].Index >= tr.Index {
					t.Fatalf("job %s: task %d of %d, out of order or range", r.ID, tr.Index, r.Spec.Count)
				}
			}
		}
	})
}

// recordingLog keeps what is logged.
type recordingLog struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *recordingLog) add(level, msg string, kv ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(&l.buf, "%s: %s %v\n", level, msg, kv)
}

func (l *recordingLog) Debugw(msg string, kv ...any) { l.add("debug", msg, kv...) }
func (l *recordingLog) Infow(msg string, kv ...any)  { l.add("info", msg, kv...) }
func (l *recordingLog) Warnw(msg string, kv ...any)  { l.add("warn", msg, kv...) }
func (l *recordingLog) Errorw(msg string, kv ...any) { l.add("error", msg, kv...) }

func (l *recordingLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
