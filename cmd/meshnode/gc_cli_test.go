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
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/node"
	"github.com/computemesh/computemesh/store"
	"github.com/ipfs/go-cid"
)

type gcJSON struct {
	DryRun bool `json:"dry_run"`
	Blobs  int  `json:"blobs"`
	Freed  []struct {
		CID    string `json:"cid"`
		Size   int64  `json:"size"`
		Reason string `json:"reason"`
	} `json:"freed"`
	FreedBytes int64 `json:"freed_bytes"`
	Protected  int   `json:"protected"`
}

// putAged stores b in s and makes it look unused for age.
func putAged(t *testing.T, s *store.Store, b string, codec uint64, age time.Duration) cid.Cid {
	t.Helper()
	c, err := s.Put([]byte(b), codec)
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-age)
	if err := os.Chtimes(filepath.Join(s.Dir(), c.String()), old, old); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCLIGCOffline: `meshnode gc` on a data dir where no node runs keeps
// what `meshnode add` pinned and what a kept job record names, drops an old
// unreferenced blob, and changes nothing with --dry-run.
func TestCLIGCOffline(t *testing.T) {
	t.Parallel()
	home, dataDir := t.TempDir(), t.TempDir()
	src := filepath.Join(t.TempDir(), "input.txt")
	if err := os.WriteFile(src, []byte("added by the owner"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := meshnode(t, home, "add", "--data-dir", dataDir, src)
	if r.code != 0 {
		t.Fatalf("add\n%s", r)
	}
	added := strings.TrimSpace(r.stdout)
	s, err := store.Open(filepath.Join(dataDir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	month := 30 * 24 * time.Hour
	addedCID, err := cid.Decode(added)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(filepath.Join(s.Dir(), added), time.Now().Add(-month), time.Now().Add(-month)); err != nil {
		t.Fatal(err)
	}
	// The outputs of a finished job whose record is kept: a manifest and
	// its file, both old.
	file := putAged(t, s, "an output", cid.Raw, month)
	m := &store.Manifest{V: job.Version, Entries: []store.Entry{{Path: "out.txt", CID: file.String(), Size: 9}}}
	outputs := putAged(t, s, string(job.Encode(m)), job.CodecJSON, month)
	spec := job.Spec{Executor: job.ExecutorWASM, Name: "hello.wasm", TimeoutMS: 20000, Policy: job.PolicyCost,
		Resources: job.Resources{CPUMillis: 1000, MemoryBytes: 64 << 20}}
	id := job.NewID(&spec, "client", []byte("nonce")).String()
	at := time.Now().Add(-month)
	rec := api.JobRecord{V: 1, ID: id, Spec: spec, State: job.StateCompleted, Submitted: at, Finished: at,
		Outcome: &job.Outcome{Job: id, State: job.StateCompleted, Outputs: outputs.String()}}
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dataDir, node.JobsDir), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dataDir, node.JobsDir, id+".json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	old := putAged(t, s, "nobody needs this", cid.Raw, month)
	fresh := putAged(t, s, "fetched an hour ago", cid.Raw, time.Hour)

	r = meshnode(t, home, "gc", "--dry-run", "--json", "--data-dir", dataDir)
	if r.code != 0 {
		t.Fatalf("gc --dry-run --json\n%s", r)
	}
	var rep gcJSON
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("gc --json is not one JSON object: %v\n%s", err, r)
	}
	if !rep.DryRun || rep.Blobs != 5 || rep.Protected != 3 || len(rep.Freed) != 1 || rep.Freed[0].CID != old.String() || rep.Freed[0].Reason != "age" {
		t.Fatalf("dry run: %+v; want only %s freed, for its age, of 5 blobs with 3 protected", rep, old)
	}
	if !s.Has(old) {
		t.Fatal("a dry run removed a blob")
	}

	r = meshnode(t, home, "gc", "--data-dir", dataDir)
	if r.code != 0 || !strings.Contains(r.stdout, "freed 1 blobs") || !strings.Contains(r.stdout, old.String()) || !strings.Contains(r.stdout, "REASON") {
		t.Fatalf("gc: want a table naming the freed blob\n%s", r)
	}
	for c, want := range map[cid.Cid]bool{old: false, addedCID: true, outputs: true, file: true, fresh: true} {
		if s.Has(c) != want {
			t.Errorf("%s held %v after gc, want %v", c, !want, want)
		}
	}

	// A retention shorter than the fresh blob's age takes it too; a size
	// limit takes nothing protected.
	r = meshnode(t, home, "gc", "--json", "--data-dir", dataDir, "--store-retention", "30m", "--store-max", "1B")
	rep = gcJSON{}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &rep) != nil || len(rep.Freed) != 1 || rep.Freed[0].CID != fresh.String() {
		t.Fatalf("gc with a short retention: %+v\n%s", rep, r)
	}
	if r = meshnode(t, home, "gc", "--data-dir", dataDir, "--store-max", "lots"); r.code != exitUsage || !strings.Contains(r.stderr, "--store-max") {
		t.Fatalf("gc --store-max lots: want a usage error naming the flag\n%s", r)
	}
}

// TestCLIGCRunningNode: `meshnode gc` goes through the running node's API,
// which collects with its own --store-retention.
func TestCLIGCRunningNode(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	p := startProvider(t, home, randomNetwork(t), "gc", "eu-west", "1", nil, "--store-retention", "24h")
	s, err := store.Open(filepath.Join(p.dataDir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	// Two days unused: past the node's 24h, within the 7 days the
	// command's own default would keep.
	old := putAged(t, s, "two days old", cid.Raw, 48*time.Hour)
	r := meshnode(t, home, "gc", "--json", "--data-dir", p.dataDir)
	var rep gcJSON
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &rep) != nil {
		t.Fatalf("gc --json\n%s", r)
	}
	if len(rep.Freed) != 1 || rep.Freed[0].CID != old.String() || s.Has(old) {
		t.Fatalf("gc through the node: %+v, still held %v; want %s freed by the node's retention", rep, s.Has(old), old)
	}
}
