package client

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/job"
)

// arrayRecord is an unfinished record of an array of count tasks.
func arrayRecord(i, count int) *api.JobRecord {
	r := testRecord(i, false)
	r.Spec.Count = count
	return r
}

// testTask is the result of task i as a provider returns it.
func testTask(i int) job.TaskResult {
	return job.TaskResult{Index: i, State: job.StateCompleted, Provider: "p1", Charge: job.Credits(i + 1), Attempts: 1,
		Stdout: []byte(fmt.Sprintf("task %d", i)), Outputs: "bafyout" + fmt.Sprint(i), RunMS: 1.5}
}

// logEntries counts dir's log entries by type, and returns the largest
// record entry's size.
func logEntries(t *testing.T, dir string) (map[byte]int, int) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, logName))
	if err != nil {
		t.Fatal(err)
	}
	n, largest := map[byte]int{}, 0
	for off := int64(0); off < int64(len(b)); {
		typ, payload, sp, err := readEntry(bytes.NewReader(b), off, int64(len(b)))
		if err != nil {
			t.Fatalf("the entry at %d: %v", off, err)
		}
		n[typ]++
		if typ == entryRecord {
			largest = max(largest, len(payload))
		}
		off += int64(sp.n)
	}
	return n, largest
}

// An array's task results are durable after sync, in entries of their own:
// reading the log (offline, or reopening after a crash) gathers them into
// the record in index order, a later result of an index replacing the
// earlier; the record's own entries never carry them.
func TestJournalTaskResults(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	j, _, err := openTestJournal(t, dir, 10)
	if err != nil {
		t.Fatal(err)
	}
	r := arrayRecord(1, 100)
	j.create(r)
	for _, i := range []int{7, 2, 50, 3, 99} {
		j.addTask(r.ID, testTask(i))
		j.update(r.ID, func(r *api.JobRecord) bool { r.Attempted++; return true })
	}
	again := testTask(3)
	again.State, again.ExitCode, again.Error = job.StateFailed, 1, "exit 1"
	j.addTask(r.ID, again)
	j.sync()

	check := func(where string, got *api.JobRecord) {
		t.Helper()
		var idx []int
		for _, tr := range got.Tasks {
			idx = append(idx, tr.Index)
		}
		if !slices.Equal(idx, []int{2, 3, 7, 50, 99}) || got.Attempted != 6 {
			t.Fatalf("%s: tasks %v, attempted %d", where, idx, got.Attempted)
		}
		if tr := got.Tasks[1]; tr.State != job.StateFailed || tr.Error != "exit 1" {
			t.Fatalf("%s: task 3 is %+v, want its later result", where, tr)
		}
		if tr := got.Tasks[4]; tr.Charge != 100 || string(tr.Stdout) != "task 99" || tr.Outputs != "bafyout99" || tr.RunMS != 1.5 {
			t.Fatalf("%s: task 99 is %+v", where, tr)
		}
	}
	mem, err := j.get(r.ID)
	if err != nil {
		t.Fatal(err)
	}
	check("in memory", mem)
	st, err := readLog(dir) // the writer still open: as after kill -9
	if err != nil || st.recs[r.ID] == nil {
		t.Fatalf("reading the log: %v", err)
	}
	check("read from the log", st.recs[r.ID])
	n, largest := logEntries(t, dir)
	if n[entryTasks] == 0 || largest > len(encodeRecord(arrayRecord(1, 100)))+200 {
		t.Fatalf("entries %v, largest record entry %d bytes: task results in the record's entries", n, largest)
	}
	if refs := recordRefs(mem); !slices.Contains(refs, "bafyout50") {
		t.Fatalf("the refs of an unfinished array lack its tasks' outputs: %v", refs)
	}
	j.close()
	_, unfinished, err := openTestJournal(t, dir, 10)
	if err != nil || len(unfinished) != 1 {
		t.Fatalf("reopening: %v, %d unfinished", err, len(unfinished))
	}
	check("reopened", unfinished[0])
}

// 10,000 tasks ending one by one, the record changing beside them: the log
// grows with the tasks' results, each written once (batched), not with the
// record rewritten whole per task.
func TestJournalTaskResultsScale(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	j, _, err := openTestJournal(t, dir, 10)
	if err != nil {
		t.Fatal(err)
	}
	const count = 10_000
	r := arrayRecord(1, count)
	j.create(r)
	once := 0
	for i := range count {
		tr := testTask(i)
		once += len(encodeTaskEntry(r.ID, []job.TaskResult{tr})) + entryHeader
		j.addTask(r.ID, tr)
		if i%1000 == 0 {
			j.update(r.ID, func(r *api.JobRecord) bool { r.Attempted++; return true })
		}
	}
	j.sync()
	fi, err := os.Stat(filepath.Join(dir, logName))
	if err != nil {
		t.Fatal(err)
	}
	// At worst one entry per task (a batch each): once's size.
	if fi.Size() > int64(once)+64<<10 {
		t.Fatalf("a log of %d bytes for %d task results of %d bytes at most", fi.Size(), count, once)
	}
	n, _ := logEntries(t, dir)
	t.Logf("%d task results in %d entries, %d record entries; log %d bytes", count, n[entryTasks], n[entryRecord], fi.Size())
	st, err := readLog(dir)
	if err != nil || len(st.recs[r.ID].Tasks) != count || len(st.bad) != 0 {
		t.Fatalf("read back: %v, %d tasks, %v", err, len(st.recs[r.ID].Tasks), st.bad)
	}
	// Once the array ends its outcome holds the tasks: their entries are no
	// longer live, and the reader leaves them out.
	j.update(r.ID, func(r *api.JobRecord) bool {
		r.Outcome = &job.Outcome{Job: r.ID, State: job.StateCompleted, Tasks: r.Tasks}
		r.State, r.Finished, r.Tasks = job.StateCompleted, time.Now(), nil
		return true
	})
	j.sync()
	j.mu.Lock()
	live := len(j.tasks.spans)
	j.mu.Unlock()
	if live != 0 {
		t.Fatalf("a finished array keeps %d jobs' task entries live", live)
	}
	got, err := j.get(r.ID)
	if err != nil || len(got.Tasks) != 0 || len(got.Outcome.Tasks) != count {
		t.Fatalf("finished: %v, %d tasks beside an outcome of %d", err, len(got.Tasks), len(got.Outcome.Tasks))
	}
}

// Compaction keeps an unfinished array's task entries (and drops a
// finished one's): after it and after reopening, the tasks read the same.
func TestJournalCompactionKeepsTasks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	j, _, err := openTestJournal(t, dir, 10)
	if err != nil {
		t.Fatal(err)
	}
	j.compactAt = 32 << 10
	running, finished := arrayRecord(1, 50), arrayRecord(2, 50)
	j.create(running)
	j.create(finished)
	for i := range 50 {
		j.addTask(running.ID, testTask(i))
		j.addTask(finished.ID, testTask(i))
	}
	j.update(finished.ID, func(r *api.JobRecord) bool {
		r.Outcome = &job.Outcome{Job: r.ID, State: job.StateCompleted, Tasks: r.Tasks}
		r.State, r.Finished, r.Tasks = job.StateCompleted, time.Now(), nil
		return true
	})
	big := string(bytes.Repeat([]byte("x"), 4000))
	for round := range 60 { // enough rewrites of the record to compact the log
		j.update(running.ID, func(r *api.JobRecord) bool { r.Attempted, r.Rounds[0].Closed = round, big; return true })
		j.sync()
	}
	if fi, err := os.Stat(filepath.Join(dir, logName)); err != nil || fi.Size() > 60*4000/2 {
		t.Fatalf("the log was not compacted: %v bytes, %v", fi.Size(), err)
	}
	if n, _ := logEntries(t, dir); n[entryTasks] == 0 || n[entryTasks] > 50 {
		t.Fatalf("after compaction: %v entries", n)
	}
	j.close()
	_, unfinished, err := openTestJournal(t, dir, 10)
	if err != nil || len(unfinished) != 1 || len(unfinished[0].Tasks) != 50 {
		t.Fatalf("reopened: %v, %d unfinished", err, len(unfinished))
	}
	for i, tr := range unfinished[0].Tasks {
		if tr.Index != i || string(tr.Stdout) != fmt.Sprintf("task %d", i) {
			t.Fatalf("task %d after compaction: %+v", i, tr)
		}
	}
	st, err := readLog(dir)
	if r := st.recs[finished.ID]; err != nil || r == nil || len(r.Tasks) != 0 || len(r.Outcome.Tasks) != 50 || len(st.bad) != 0 {
		t.Fatalf("the finished array: %v, %v", err, st.bad)
	}
}

// A task entry that a crash cut short is dropped with the rest of the
// torn tail; the entries before it stand.
func TestJournalTornTaskEntry(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	j, _, err := openTestJournal(t, dir, 10)
	if err != nil {
		t.Fatal(err)
	}
	r := arrayRecord(1, 10)
	j.create(r)
	j.addTask(r.ID, testTask(0))
	j.close()
	path := filepath.Join(dir, logName)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	e := appendEntry(nil, entryTasks, encodeTaskEntry(r.ID, []job.TaskResult{testTask(1)}))
	if err := os.WriteFile(path, append(b, e[:len(e)-5]...), 0o600); err != nil {
		t.Fatal(err)
	}
	_, unfinished, err := openTestJournal(t, dir, 10)
	if err != nil || len(unfinished) != 1 || len(unfinished[0].Tasks) != 1 || unfinished[0].Tasks[0].Index != 0 {
		t.Fatalf("after a torn task entry: %v, %+v", err, unfinished)
	}
}

func TestMergeTasks(t *testing.T) {
	r := arrayRecord(1, 4)
	r.Tasks = []job.TaskResult{testTask(1)}
	later := testTask(1)
	later.Stdout = []byte("later")
	if n := mergeTasks(r, []job.TaskResult{testTask(3), testTask(9), later, testTask(0)}); n != 1 {
		t.Fatalf("%d left out, want 1 (task 9 of 4)", n)
	}
	var idx []int
	for _, tr := range r.Tasks {
		idx = append(idx, tr.Index)
	}
	if !slices.Equal(idx, []int{0, 1, 3}) || string(r.Tasks[1].Stdout) != "later" {
		t.Fatalf("merged %v, task 1 %q", idx, r.Tasks[1].Stdout)
	}
	ins := insertTask(nil, testTask(5))
	ins = insertTask(ins, testTask(2))
	ins = insertTask(ins, later)
	ins = insertTask(ins, testTask(1))
	if len(ins) != 3 || ins[0].Index != 1 || string(ins[0].Stdout) != "task 1" || ins[2].Index != 5 {
		t.Fatalf("inserted: %+v", ins)
	}
}

func TestDecodeTaskEntryRefuses(t *testing.T) {
	id := testJobID(1)
	tooMany := make([]job.TaskResult, tasksPerEntry+1)
	for i := range tooMany {
		tooMany[i] = testTask(i)
	}
	long := testTask(0)
	long.Stderr = bytes.Repeat([]byte("e"), taskOutputMax+1)
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"no tasks", encodeTaskEntry(id, nil)},
		{"too many", encodeTaskEntry(id, tooMany)},
		{"bad job", encodeTaskEntry("NOT-AN-ID", []job.TaskResult{testTask(0)})},
		{"negative index", encodeTaskEntry(id, []job.TaskResult{{Index: -1, State: job.StateCompleted}})},
		{"index past the largest array", encodeTaskEntry(id, []job.TaskResult{{Index: job.MaxCount, State: job.StateCompleted}})},
		{"a task that did not end", encodeTaskEntry(id, []job.TaskResult{{Index: 1, State: job.StateUnscheduled}})},
		{"negative charge", encodeTaskEntry(id, []job.TaskResult{{Index: 1, State: job.StateCompleted, Charge: -1}})},
		{"stderr too long", encodeTaskEntry(id, []job.TaskResult{long})},
		{"another version", []byte(`{"v":2,"job":"` + id + `","tasks":[{"index":0,"state":"completed"}]}`)},
		{"trailing data", append(encodeTaskEntry(id, []job.TaskResult{testTask(0)}), []byte(` {}`)...)},
		{"not json", []byte(`tasks`)},
	} {
		if _, err := decodeTaskEntry(tc.b); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
	if e, err := decodeTaskEntry(encodeTaskEntry(id, []job.TaskResult{testTask(0), testTask(9999)})); err != nil || len(e.Tasks) != 2 {
		t.Fatalf("a valid entry: %v", err)
	}
}

// FuzzJournalDecodeTaskEntry: any payload decodes to a checked entry or an
// error, never a panic; what decodes encodes and decodes again the same.
func FuzzJournalDecodeTaskEntry(f *testing.F) {
	id := testJobID(1)
	f.Add(encodeTaskEntry(id, []job.TaskResult{testTask(0), testTask(3)}))
	failed := testTask(2)
	failed.State, failed.ExitCode, failed.Error, failed.Stderr = job.StateTimeout, -1, "timed out", []byte("err")
	f.Add(encodeTaskEntry(id, []job.TaskResult{failed}))
	f.Add([]byte(`{"v":1,"job":"` + id + `","tasks":[{"index":9999,"state":"failed","charge_nano":0}]}`))
	f.Add([]byte(`{"v":1,"job":"` + id + `","tasks":[]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeTaskEntry(b)
		if err != nil {
			return
		}
		if !validJobID(e.Job) || e.V != taskEntryVersion || len(e.Tasks) == 0 || len(e.Tasks) > tasksPerEntry {
			t.Fatalf("accepted an entry of job %q, v %d, %d tasks", e.Job, e.V, len(e.Tasks))
		}
		for i := range e.Tasks {
			if err := checkTaskResult(&e.Tasks[i]); err != nil {
				t.Fatalf("accepted a task that fails its check: %v", err)
			}
		}
		again, err := decodeTaskEntry(encodeTaskEntry(e.Job, e.Tasks))
		if err != nil {
			t.Fatalf("a decoded entry does not decode again: %v", err)
		}
		if again.Job != e.Job || len(again.Tasks) != len(e.Tasks) {
			t.Fatalf("round trip changed the entry: %+v → %+v", e, again)
		}
		for i := range e.Tasks {
			a, b := e.Tasks[i], again.Tasks[i]
			if a.Index != b.Index || a.State != b.State || a.Charge != b.Charge || !bytes.Equal(a.Stdout, b.Stdout) || a.Outputs != b.Outputs {
				t.Fatalf("round trip changed task %d: %+v → %+v", i, a, b)
			}
		}
	})
}

// An array that cannot resume (its secrets were never stored) ends failed
// at the next start, the tasks that had ended in its outcome.
func TestReopenArrayKeepsEndedTasks(t *testing.T) {
	t.Parallel()
	j, _, err := openTestJournal(t, t.TempDir(), 10)
	if err != nil {
		t.Fatal(err)
	}
	r := arrayRecord(1, 10)
	r.Secrets = true
	j.create(r)
	j.addTask(r.ID, testTask(4))
	j.addTask(r.ID, testTask(1))
	c := &Client{journal: j, now: time.Now, log: testLog()}
	if c.reopen(r) {
		t.Fatal("an array with secrets is to be dispatched again")
	}
	got, err := j.get(r.ID)
	if err != nil || got.Outcome == nil || len(got.Tasks) != 0 || len(got.Outcome.Tasks) != 2 || got.Outcome.Charge != 2+5 {
		t.Fatalf("after reopening: %v, %+v", err, got)
	}
}
