package client

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/job"
)

// testJobID returns a valid job ID that differs by i.
func testJobID(i int) string {
	s := &job.Spec{Executor: job.ExecutorWASM, Name: fmt.Sprintf("job-%d", i)}
	return job.NewID(s, "client", []byte{byte(i), byte(i >> 8)}).String()
}

func testRecord(i int, finished bool) *api.JobRecord {
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute)
	r := &api.JobRecord{
		V: recordVersion, ID: testJobID(i), Nonce: []byte{1, 2, 3}, State: api.JobRunning, Submitted: at,
		Spec:        job.Spec{Executor: job.ExecutorWASM, Name: fmt.Sprintf("job-%d", i), TimeoutMS: 1000},
		BidWindowMS: 2000, Attempted: 1,
		Rounds:   []api.Round{{Started: at, Candidates: 2, Answers: []api.RoundBid{{Provider: "p1", Price: 5}, {Provider: "p2", Decline: "busy: full"}}}},
		Attempts: []api.Attempt{{N: 1, Provider: "p1", Start: at}},
	}
	if finished {
		r.State, r.Finished = job.StateCompleted, at.Add(time.Second)
		r.Outcome = &job.Outcome{Job: r.ID, State: job.StateCompleted, Provider: "p1", Charge: 3, Attempts: 1}
	}
	return r
}

func writeRecord(t *testing.T, dir string, r *api.JobRecord) {
	t.Helper()
	if err := writeAtomic(filepath.Join(dir, r.ID+".json"), encodeRecord(r)); err != nil {
		t.Fatal(err)
	}
}

func TestJournalRoundTrip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	j, unfinished, err := openTestJournal(t, dir, 10)
	if err != nil || len(unfinished) != 0 {
		t.Fatalf("empty journal: %v, %d unfinished", err, len(unfinished))
	}
	running, done := testRecord(1, false), testRecord(2, true)
	j.create(running)
	j.create(done)
	j.update(done.ID, func(*api.JobRecord) bool { return false }) // moves it to the finished ones
	j.close()

	j2, unfinished, err := openTestJournal(t, dir, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(unfinished) != 1 || unfinished[0].ID != running.ID {
		t.Fatalf("unfinished after reopening: %+v", unfinished)
	}
	got, err := j2.get(running.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Spec.Name != "job-1" || got.BidWindowMS != 2000 || len(got.Rounds) != 1 || len(got.Rounds[0].Answers) != 2 ||
		got.Rounds[0].Answers[1].Decline != "busy: full" || len(got.Attempts) != 1 || string(got.Nonce) != "\x01\x02\x03" {
		t.Fatalf("record changed on the way: %+v", got)
	}
	got, err = j2.get(done.ID[:20]) // a unique prefix
	if err != nil {
		t.Fatal(err)
	}
	if got.Outcome == nil || got.Outcome.Charge != 3 || got.State != job.StateCompleted {
		t.Fatalf("finished record: %+v", got)
	}
	if got, err := j2.get(done.ID[:6] + "…" + done.ID[len(done.ID)-6:]); err != nil || got.ID != done.ID {
		t.Fatalf("short form: %v", err)
	}
	if _, err := j2.get("bafynothere"); !errors.Is(err, ErrUnknownJob) {
		t.Fatalf("unknown job: %v", err)
	}
	list := j2.list()
	if len(list) != 2 || list[0].ID != done.ID || list[1].ID != running.ID {
		t.Fatalf("list (newest first): %+v", list)
	}
	if list[0].Provider != "p1" || list[0].Charge != 3 || list[0].Name != "job-2" {
		t.Fatalf("summary: %+v", list[0])
	}
}

func TestJournalAtomicReplace(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "x.json")
	for i, content := range []string{"first version\n", "second\n"} {
		if err := writeAtomic(path, []byte(content)); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil || string(b) != content {
			t.Fatalf("write %d: %q, %v", i, b, err)
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 {
		t.Fatalf("temporary files left behind: %v", ents)
	}
	// A write into a directory that is gone fails and leaves nothing.
	if err := writeAtomic(filepath.Join(dir, "missing", "y.json"), []byte("z")); err == nil {
		t.Fatal("writing into a missing directory succeeded")
	}
}

func TestJournalCorruptRecordsSkipped(t *testing.T) {
	t.Parallel()
	good := testRecord(1, true)
	other := testRecord(2, false)
	full := encodeRecord(testRecord(3, false))
	cases := []struct {
		name    string
		content []byte
	}{
		{"truncated", full[:len(full)/2]},
		{"empty", nil},
		{"garbage", []byte("\x00\x01not json")},
		{"wrong version", []byte(strings.Replace(string(full), `"v":1`, `"v":99`, 1))},
		{"trailing data", append(append([]byte{}, full...), []byte("{}")...)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeRecord(t, dir, good)
			writeRecord(t, dir, other)
			bad := filepath.Join(dir, testJobID(3)+".json")
			if err := os.WriteFile(bad, tc.content, 0o600); err != nil {
				t.Fatal(err)
			}
			// A temporary file of a write that a crash interrupted.
			if err := os.WriteFile(filepath.Join(dir, recordTmpPrefix+"123"), []byte("{"), 0o600); err != nil {
				t.Fatal(err)
			}
			recs, errs := loadRecords(dir)
			if len(recs) != 2 {
				t.Fatalf("%d records read, want the 2 good ones", len(recs))
			}
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), bad) {
				t.Fatalf("errors %v, want one naming %s", errs, bad)
			}
			j, unfinished, err := openTestJournal(t, dir, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(unfinished) != 1 || unfinished[0].ID != other.ID || len(j.list()) != 2 {
				t.Fatalf("unfinished %d, listed %d", len(unfinished), len(j.list()))
			}
			if _, err := os.Stat(bad + recordCorrupt); err != nil {
				t.Fatalf("the corrupt record was not set aside: %v", err)
			}
			if _, err := os.Stat(filepath.Join(dir, recordTmpPrefix+"123")); !os.IsNotExist(err) {
				t.Fatalf("the stale temporary file is still there: %v", err)
			}
		})
	}
}

func TestJournalPrune(t *testing.T) {
	t.Parallel()
	cases := []struct {
		finished, unfinished, keep int
	}{
		{finished: 5, unfinished: 0, keep: 10},
		{finished: 5, unfinished: 2, keep: 3},
		{finished: 12, unfinished: 1, keep: 1},
		{finished: 4, unfinished: 3, keep: 0},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%d+%d keep %d", tc.finished, tc.unfinished, tc.keep), func(t *testing.T) {
			dir := t.TempDir()
			for i := range tc.finished {
				writeRecord(t, dir, testRecord(i, true))
			}
			for i := range tc.unfinished {
				writeRecord(t, dir, testRecord(100+i, false))
			}
			j, unfinished, err := openTestJournal(t, dir, tc.keep)
			if err != nil {
				t.Fatal(err)
			}
			kept := min(tc.finished, tc.keep)
			if len(unfinished) != tc.unfinished || len(j.list()) != kept+tc.unfinished {
				t.Fatalf("%d unfinished, %d listed", len(unfinished), len(j.list()))
			}
			// The newest finished records are the ones kept, on disk too
			// (moved into the log: no record file is left).
			disk := onDisk(t, dir)
			for i := range tc.finished {
				if want := i >= tc.finished-kept; want != (disk[testJobID(i)] != nil) {
					t.Fatalf("record %d kept: %v, want %v", i, disk[testJobID(i)] != nil, want)
				}
				if _, err := os.Stat(filepath.Join(dir, testJobID(i)+".json")); err == nil {
					t.Fatalf("record file %d still there after it moved into the log", i)
				}
			}
			// Finishing one more job prunes again.
			if tc.unfinished > 0 {
				id := testJobID(100)
				j.update(id, func(r *api.JobRecord) bool {
					r.Outcome = &job.Outcome{Job: id, State: job.StateFailed}
					r.State, r.Finished = job.StateFailed, time.Now()
					return true
				})
				if got := len(j.list()); got != min(kept+1, tc.keep)+tc.unfinished-1 {
					t.Fatalf("after finishing one: %d listed", got)
				}
				// Full already: the oldest kept record goes, on disk too.
				if kept == tc.keep && kept > 0 {
					j.sync()
					oldest := tc.finished - kept
					disk := onDisk(t, dir)
					if disk[testJobID(oldest)] != nil {
						t.Fatalf("record %d, the oldest, still on disk after one more finished", oldest)
					}
					if kept > 1 && disk[testJobID(tc.finished-1)] == nil {
						t.Fatalf("record %d, the newest, gone", tc.finished-1)
					}
				}
			}
		})
	}
}

// TestJournalWriteFailureKeepsRunning: a record that cannot be written
// (here: its directory is gone) is logged, and the journal goes on.
func TestJournalWriteFailureKeepsRunning(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "jobs")
	j, _, err := openTestJournal(t, dir, 10)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	r := testRecord(1, false)
	j.create(r)
	j.update(r.ID, func(r *api.JobRecord) bool { r.State = api.JobWaiting; return true })
	if got, err := j.get(r.ID); err != nil || got.State != api.JobWaiting {
		t.Fatalf("in memory: %v, %v", got, err)
	}
}

func TestReadJobsOffline(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	dir := filepath.Join(dataDir, JobsDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	writeRecord(t, dir, testRecord(1, true))
	writeRecord(t, dir, testRecord(2, false))
	bad := filepath.Join(dir, testJobID(3)+".json")
	if err := os.WriteFile(bad, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	list, errs := ReadJobs(dataDir)
	if len(list) != 2 || len(errs) != 1 || !strings.Contains(errs[0].Error(), bad) {
		t.Fatalf("list %d, errors %v", len(list), errs)
	}
	if r, err := ReadJob(dataDir, testJobID(1)[:15]); err != nil || r.Outcome == nil {
		t.Fatalf("ReadJob: %v", err)
	}
	if _, err := os.Stat(bad); err != nil {
		t.Fatalf("reading offline changed the data dir: %v", err)
	}
	if list, errs := ReadJobs(filepath.Join(dataDir, "nothing")); len(list) != 0 || len(errs) != 0 {
		t.Fatalf("a data dir without records: %v, %v", list, errs)
	}
}

func FuzzJournalDecodeRecord(f *testing.F) {
	f.Add(encodeRecord(testRecord(1, true)))
	f.Add(encodeRecord(testRecord(2, false)))
	f.Add([]byte(`{"v":1,"id":"bafy12345678","submitted":"2025-01-01T00:00:00Z","state":"x"}`))
	f.Add([]byte(`{"v":1}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRecord(b)
		if err != nil {
			return
		}
		if !validJobID(r.ID) || r.V != recordVersion {
			t.Fatalf("accepted a record with id %q, v %d", r.ID, r.V)
		}
		again, err := decodeRecord(encodeRecord(r))
		if err != nil {
			t.Fatalf("a decoded record does not decode again: %v", err)
		}
		if again.ID != r.ID || again.State != r.State || again.Attempted != r.Attempted || again.Done() != r.Done() {
			t.Fatalf("round trip changed the record: %+v → %+v", r, again)
		}
	})
}

// The writer batches: after sync, every record is on disk in its latest
// version, whatever the order and number of updates before it, and no
// temporary file is left.
func TestJournalGroupCommit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	j, _, err := openTestJournal(t, dir, 100)
	if err != nil {
		t.Fatal(err)
	}
	const n = 50
	for i := range n {
		j.create(testRecord(i, false))
	}
	for round := range 3 {
		for i := range n {
			j.update(testJobID(i), func(r *api.JobRecord) bool {
				r.Attempted = round + 1
				return true
			})
		}
	}
	j.sync()
	disk := onDisk(t, dir)
	for i := range n {
		r := disk[testJobID(i)]
		if r == nil {
			t.Fatalf("record %d not on disk after sync", i)
		}
		if r.Attempted != 3 {
			t.Fatalf("record %d on disk: attempted %d, want the latest (3)", i, r.Attempted)
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != logName {
		t.Fatalf("%d files in the records' directory, want the log alone", len(ents))
	}
}

// onDisk reads the records of dir's log as they are on disk.
func onDisk(t *testing.T, dir string) map[string]*api.JobRecord {
	t.Helper()
	st, err := readLog(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.bad) > 0 || st.torn > 0 {
		t.Fatalf("log of %s: %v, %d torn bytes", dir, st.bad, st.torn)
	}
	return st.recs
}

// A finished record is described as finished at once, whether its last
// write is still queued or on its way to the file.
func TestJournalFinishedReadsItsLastWrite(t *testing.T) {
	t.Parallel()
	j, _, err := openTestJournal(t, t.TempDir(), 100)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		r := testRecord(i, false)
		j.create(r)
		j.update(r.ID, func(r *api.JobRecord) bool {
			r.Outcome = &job.Outcome{Job: r.ID, State: job.StateFailed, Error: "finished"}
			r.State, r.Finished = job.StateFailed, time.Now()
			return true
		})
		got, err := j.get(r.ID)
		if err != nil || got.Outcome == nil || got.Outcome.Error != "finished" {
			t.Fatalf("record %d right after it finished: %+v, %v", i, got, err)
		}
	}
}

// openTestJournal opens the journal of dir for a test, which closes it
// (its writer stops) before the test's directories are removed.
func openTestJournal(t *testing.T, dir string, keep int) (*journal, []*api.JobRecord, error) {
	t.Helper()
	j, unfinished, err := openJournal(dir, keep, testLog(), time.Now)
	if j != nil {
		t.Cleanup(j.close)
	}
	return j, unfinished, err
}
