package node

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/job"
)

// testRecord is an unfinished record of a job (for a data dir to resume
// from): one round, one attempt under way.
func testRecord(i int) *api.JobRecord {
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute)
	s := &job.Spec{Executor: job.ExecutorWASM, Name: fmt.Sprintf("job-%d", i), TimeoutMS: 1000}
	return &api.JobRecord{
		V: 1, ID: job.NewID(s, "client", []byte{byte(i), byte(i >> 8)}).String(), Nonce: []byte{1, 2, 3},
		State: api.JobRunning, Submitted: at, Spec: *s, BidWindowMS: 2000, Attempted: 1,
		Rounds:   []api.Round{{Started: at, Candidates: 2, Answers: []api.RoundBid{{Provider: "p1", Price: 5}, {Provider: "p2", Decline: "busy: full"}}}},
		Attempts: []api.Attempt{{N: 1, Provider: "p1", Start: at}},
	}
}

// writeRecord writes r as its record file in dir.
func writeRecord(t *testing.T, dir string, r *api.JobRecord) {
	t.Helper()
	b, err := json.MarshalIndent(r, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, r.ID+".json"), append(b, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
}

// waitRecord polls a node's record of a job until cond holds (the bound only
// catches a hang).
func waitRecord(t *testing.T, n *Node, id string, within time.Duration, cond func(*api.JobRecord) bool) *api.JobRecord {
	t.Helper()
	end := time.Now().Add(within)
	for {
		r, err := n.Job(id)
		if err == nil && cond(r) {
			return r
		}
		if time.Now().After(end) {
			t.Fatalf("job %s: the record did not get there within %v (last: %+v, %v)", id, within, r, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestResumeAfterClientRestart: a client node with a data dir is closed
// while its job runs; a new node on the same data dir (same identity)
// dispatches the job again under the same ID, and it completes, reported
// once.
func TestResumeAfterClientRestart(t *testing.T) {
	t.Parallel()
	_, provs := testMesh(t, []provSpec{{"us-east", "0.5"}, {"eu-west", "0.9"}})
	// Both providers as bootstrap peers: the test is of resuming, not of
	// how fast the DHT shows a new node the second provider on a loaded
	// machine.
	boot := []string{provs[0].Mesh().Addrs()[0].String(), provs[1].Mesh().Addrs()[0].String()}
	dataDir := t.TempDir()
	cfg := Config{Mode: ModeClient, Bootstrap: boot, Network: "test", DataDir: dataDir, API: "127.0.0.1:0"}
	ctx := context.Background()

	c1, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c1.Close() })
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := c1.Mesh().WaitProviders(wctx, 2); err != nil {
		t.Fatal(err)
	}

	running := make(chan string, 1)
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		sctx, cancel := context.WithTimeout(ctx, 90*time.Second)
		defer cancel()
		_, _ = c1.Submit(sctx, guestSpec(t, "sleep", "3s"), func(e job.Event) {
			t.Logf("first client: %-10s %s %s", e.Kind, short(e.Provider), e.Message)
			if e.Kind == job.EventRunning {
				select {
				case running <- e.Job:
				default:
				}
			}
		})
	}()
	var id string
	select {
	case id = <-running:
	case <-time.After(90 * time.Second):
		t.Fatal("the job did not start running within 90s")
	}
	time.Sleep(500 * time.Millisecond) // mid-run
	if err := c1.Close(); err != nil {
		t.Logf("closing the first client: %v", err)
	}
	select {
	case <-ended:
	case <-time.After(60 * time.Second):
		t.Fatal("Submit did not return within 60s of its node's Close")
	}

	// On disk: the job is unfinished, one attempt made.
	r, err := ReadJob(dataDir, id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Outcome != nil || r.Attempted != 1 || !r.ModuleStored {
		t.Fatalf("after the close: outcome %+v, attempted %d, module stored %v", r.Outcome, r.Attempted, r.ModuleStored)
	}

	c2, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c2.Close() })
	if c2.ID() != c1.ID() {
		t.Fatalf("the restarted client is %s, was %s", c2.ID(), c1.ID())
	}
	r = waitRecord(t, c2, id, 120*time.Second, func(r *api.JobRecord) bool { return r.Outcome != nil })
	if r.State != job.StateCompleted || r.Outcome.State != job.StateCompleted {
		t.Fatalf("resumed job ended %s: %s", r.State, r.Outcome.Error)
	}
	if r.Attempted < 2 || r.Outcome.Attempts < 2 || r.Resumes != 1 {
		t.Fatalf("attempted %d, outcome attempts %d, resumes %d; want ≥ 2, ≥ 2, 1", r.Attempted, r.Outcome.Attempts, r.Resumes)
	}
	if first := r.Attempts[0]; first.Result != "interrupted" || first.End.IsZero() {
		t.Fatalf("the interrupted attempt: %+v", first)
	}
	if last := r.Attempts[len(r.Attempts)-1]; last.Result != job.VerdictOf(job.StateCompleted) || last.Provider != r.Outcome.Provider {
		t.Fatalf("the last attempt: %+v (winner %s)", last, r.Outcome.Provider)
	}

	// Listed once, through the node and through its API.
	count := func(list []api.JobSummary) int {
		k := 0
		for _, s := range list {
			if s.ID == id {
				k++
			}
		}
		return k
	}
	if got := c2.Jobs(); len(got) != 1 || count(got) != 1 || got[0].State != job.StateCompleted {
		t.Fatalf("listing: %+v", got)
	}
	cl, err := api.Dial(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	list, err := cl.Jobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || count(list) != 1 || list[0].Attempts < 2 {
		t.Fatalf("GET /v1/jobs: %+v", list)
	}
	rec, err := cl.Job(ctx, id[:16])
	if err != nil {
		t.Fatal(err)
	}
	if rec.ID != id || rec.Outcome == nil || len(rec.Rounds) < 2 {
		t.Fatalf("GET /v1/jobs/{id}: id %s, outcome %v, %d rounds", rec.ID, rec.Outcome, len(rec.Rounds))
	}
	if _, err := cl.Job(ctx, "bafynosuchjob"); err == nil || !strings.Contains(err.Error(), "no such job") {
		t.Fatalf("GET of an unknown job: %v", err)
	}

	// A third start finds nothing to resume: the job stays reported once.
	if err := c2.Close(); err != nil {
		t.Logf("closing the second client: %v", err)
	}
	list, errs := ReadJobs(dataDir)
	if len(errs) != 0 || len(list) != 1 || list[0].State != job.StateCompleted {
		t.Fatalf("on disk after the second close: %+v, %v", list, errs)
	}
	for _, s := range list {
		r, err := ReadJob(dataDir, s.ID)
		if err != nil || !r.Done() {
			t.Fatalf("reopening: %v, job %s unfinished", err, s.ID)
		}
	}
}

// TestResumeImpossible: an unfinished job whose submission had secrets (never
// stored), or whose module is gone from the store, ends failed at the
// client's next start with the reason, and is not dispatched.
func TestResumeImpossible(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		mut  func(*api.JobRecord)
		want string
	}{
		{"secrets", func(r *api.JobRecord) { r.Secrets = true }, "the client restarted and secrets are never stored: resubmit"},
		{"module gone", func(r *api.JobRecord) { r.Spec.Module = job.ModuleCID([]byte("not stored")).String() }, "is not in its store"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dataDir := t.TempDir()
			dir := filepath.Join(dataDir, JobsDir)
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			r := testRecord(7)
			tc.mut(r)
			writeRecord(t, dir, r)
			n, err := New(context.Background(), Config{Mode: ModeClient, Network: "test-resume", DataDir: dataDir})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { n.Close() })
			got, err := n.Job(r.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Outcome == nil || got.State != job.StateFailed || !strings.Contains(got.Outcome.Error, tc.want) {
				t.Fatalf("state %s, outcome %+v; want failed with %q", got.State, got.Outcome, tc.want)
			}
			if a := got.Attempts[0]; a.Result != "interrupted" || a.End.IsZero() {
				t.Fatalf("the interrupted attempt: %+v", a)
			}
			if got.Outcome.Attempts != 1 || got.Resumes != 1 {
				t.Fatalf("attempts %d, resumes %d", got.Outcome.Attempts, got.Resumes)
			}
			n.Close()
			disk, err := ReadJob(dataDir, r.ID)
			if err != nil || disk.Outcome == nil || disk.Outcome.Error != got.Outcome.Error {
				t.Fatalf("on disk: %+v, %v", disk, err)
			}
		})
	}
}

// TestJobsEphemeralKeepsNothing: a node without a data dir writes no
// records and lists no jobs.
func TestJobsEphemeralKeepsNothing(t *testing.T) {
	t.Parallel()
	client, _ := testMesh(t, []provSpec{{"us-east", "0.5"}})
	out := submit(t, client, helloSpec(t, nil), nil)
	if out.State != job.StateCompleted {
		t.Fatalf("state %s: %s", out.State, out.Error)
	}
	if client.client.Journaled() || len(client.Jobs()) != 0 {
		t.Fatalf("an ephemeral node keeps job records")
	}
	if _, err := client.Job(out.Job); err == nil {
		t.Fatal("an ephemeral node describes a job")
	}
}
