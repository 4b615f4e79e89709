package client

import (
	"slices"
	"testing"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/job"
	logging "github.com/ipfs/go-log/v2"
)

// testLog is where the tests' clients and journals log.
func testLog() Logger { return logging.Logger("computemesh/client") }

// The journal keeps the outputs of finished jobs and the inputs and stored
// module of unfinished ones, also after a restart.
func TestJournalRefs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	j, _, err := openTestJournal(t, dir, 10)
	if err != nil {
		t.Fatal(err)
	}
	running, done := testRecord(1, false), testRecord(2, true)
	running.Spec.Inputs = []job.Input{{Name: "in", CID: "input-cid"}}
	running.Spec.Module, running.ModuleStored = "module-cid", true
	done.Spec.Inputs = []job.Input{{Name: "in", CID: "old-input-cid"}}
	done.Outcome.Outputs = "outputs-cid"
	j.create(running)
	j.create(done)
	j.update(done.ID, func(*api.JobRecord) bool { return false })
	want := []string{"input-cid", "module-cid", "outputs-cid"}
	got := j.refs()
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("refs %v, want %v", got, want)
	}
	j.close()
	j2, _, err := openTestJournal(t, dir, 10)
	if err != nil {
		t.Fatal(err)
	}
	got = j2.refs()
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("refs after a restart %v, want %v", got, want)
	}
}
