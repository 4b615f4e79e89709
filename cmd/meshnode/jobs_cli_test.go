//go:build unix

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/internal/idref"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/node"
)

// TestCLIJobsOffline: `meshnode jobs` and `meshnode job describe` read the
// job records of a data dir where no node runs, skipping a corrupt one with
// a warning that names it.
func TestCLIJobsOffline(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	dir := filepath.Join(dataDir, node.JobsDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	spec := job.Spec{Executor: job.ExecutorWASM, Name: "hello.wasm", TimeoutMS: 20000, Policy: job.PolicyCost,
		Resources: job.Resources{CPUMillis: 1000, MemoryBytes: 64 << 20}}
	id := job.NewID(&spec, "client", []byte("nonce")).String()
	at := time.Now().Add(-90 * time.Second)
	rec := api.JobRecord{
		V: 1, ID: id, Spec: spec, State: job.StateCompleted, Submitted: at, Finished: at.Add(5 * time.Second),
		BidWindowMS: 2000, Attempted: 2, Resumes: 1,
		Rounds: []api.Round{{Started: at, Candidates: 2, Closed: "every candidate answered",
			Answers:  []api.RoundBid{{Provider: "12D3KooWProviderAAAAAAAAAAAA", Region: "us-east", Price: 1200, Queue: 2}, {Provider: "12D3KooWProviderBBBBBBBBBBBB", Region: "eu-west", Decline: "busy: full"}},
			Rejected: []api.Rejection{{Provider: "12D3KooWProviderCCCCCCCCCCCC", Reason: "price above the max"}},
			Awarded:  []string{"12D3KooWProviderAAAAAAAAAAAA"}}},
		Attempts: []api.Attempt{
			{N: 1, Provider: "12D3KooWProviderAAAAAAAAAAAA", Region: "us-east", Start: at, End: at.Add(time.Second), Duration: time.Second, Result: "interrupted", Error: "the client node stopped during the attempt"},
			{N: 2, Provider: "12D3KooWProviderAAAAAAAAAAAA", Region: "us-east", Start: at.Add(3 * time.Second), End: at.Add(5 * time.Second), Duration: 2 * time.Second, Result: job.VerdictOf(job.StateCompleted)},
		},
		Outcome: &job.Outcome{Job: id, State: job.StateCompleted, Provider: "12D3KooWProviderAAAAAAAAAAAA", Region: "us-east",
			Price: 1200, Charge: 800, Attempts: 2, Reason: "cheapest of 1 feasible bids", Stdout: []byte("hello world\n")},
	}
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, id+".json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bafybadbadbadbad.json")
	if err := os.WriteFile(bad, b[:len(b)/3], 0o600); err != nil {
		t.Fatal(err)
	}

	r := meshnode(t, t.TempDir(), "jobs", "--json", "--data-dir", dataDir)
	if r.code != 0 {
		t.Fatalf("jobs --json\n%s", r)
	}
	var list []struct {
		ID       string `json:"id"`
		State    string `json:"state"`
		Provider string `json:"provider"`
		Charge   int64  `json:"charge_nano"`
		Attempts int    `json:"attempts"`
		Name     string `json:"name"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
		t.Fatalf("jobs --json is not one JSON array: %v\n%s", err, r)
	}
	if len(list) != 1 || list[0].ID != id || list[0].State != string(job.StateCompleted) || list[0].Attempts != 2 || list[0].Charge != 800 || list[0].Name != "hello.wasm" {
		t.Fatalf("jobs --json: %+v", list)
	}
	if !strings.Contains(r.stderr, bad) {
		t.Errorf("stderr does not name the corrupt record %s:\n%s", bad, r.stderr)
	}

	r = meshnode(t, t.TempDir(), "jobs", "--data-dir", dataDir)
	for _, want := range []string{"JOB", "STATE", "PROVIDER", "REGION", "CHARGE", "ATTEMPTS", "AGE", "completed", "us-east", idref.Short(id)} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Fatalf("jobs table lacks %q\n%s", want, r)
		}
	}

	t.Logf("jobs:\n%s", r.stdout)
	r = meshnode(t, t.TempDir(), "job", "describe", idref.Short(id), "--data-dir", dataDir) // as the table prints it
	for _, want := range []string{id, "resumed after 1", "Auction rounds", "queue position 2", "busy: full", "price above the max",
		"interrupted", "Winner", "cheapest of 1 feasible bids", "Charge", "hello world"} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Fatalf("job describe lacks %q\n%s", want, r)
		}
	}
	t.Logf("job describe:\n%s", r.stdout)
	r = meshnode(t, t.TempDir(), "job", "describe", id, "--json", "--data-dir", dataDir)
	var got api.JobRecord
	if err := json.Unmarshal([]byte(r.stdout), &got); r.code != 0 || err != nil || got.ID != id || got.Outcome == nil {
		t.Fatalf("job describe --json: %v\n%s", err, r)
	}
	r = meshnode(t, t.TempDir(), "job", "describe", "bafynosuchjob", "--data-dir", dataDir)
	if r.code != exitUsage || !strings.Contains(r.stderr, "no such job") {
		t.Fatalf("describing an unknown job: want exit %d\n%s", exitUsage, r)
	}

	// Shell completion offers the node's jobs in their short form, with
	// their state, to every command that takes one.
	for _, args := range [][]string{{"job", "describe"}, {"logs"}, {"cancel"}} {
		r = meshnode(t, t.TempDir(), append(append([]string{"__complete"}, args...), "--data-dir", dataDir, "")...)
		if r.code != 0 || !strings.Contains(r.stdout, idref.Short(id)+"\tcompleted") {
			t.Errorf("completing %v: want %s and its state\n%s", args, idref.Short(id), r)
		}
	}
	if r = meshnode(t, t.TempDir(), "completion", "bash"); r.code != 0 || !strings.Contains(r.stdout, "meshnode") {
		t.Errorf("completion bash: want a script\n%s", r)
	}
}
