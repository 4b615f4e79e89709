package node

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/ipfs/go-cid"
)

// Inputs travel by CID to the winner alone, outputs come back by CID to the
// client alone.
func TestEndToEndInputsAndOutputs(t *testing.T) {
	t.Parallel()
	client, provs := testMesh(t, []provSpec{{"eu-west", "0.5"}, {"us-east", "0.9"}})
	in, err := client.Store().Put([]byte("shout"), cid.Raw)
	if err != nil {
		t.Fatal(err)
	}
	sub := guestSpec(t, "upper")
	sub.Spec.Inputs = []job.Input{{Name: "in.txt", CID: in.String()}}
	out := submit(t, client, sub, nil)
	if out.State != job.StateCompleted || out.Outputs == "" {
		t.Fatalf("state %s, outputs %q: %s (stderr %q)", out.State, out.Outputs, out.Error, out.Stderr)
	}
	mc, err := job.ParseCID(out.Outputs)
	if err != nil {
		t.Fatal(err)
	}
	m, err := client.Store().Manifest(mc)
	if err != nil {
		t.Fatalf("the client's store lacks the outputs: %v", err)
	}
	dir := t.TempDir()
	if err := client.Store().Export(m, dir); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "upper.txt")); err != nil || string(b) != "SHOUT" {
		t.Fatalf("output upper.txt: %q, %v", b, err)
	}

	// Another provider, not awarded the job, may fetch neither the input
	// from the client nor the output from the winner.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := provs[1].Mesh().FetchBlob(ctx, client.ID(), in.String(), 0); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("a provider that did not win fetched the input: %v", err)
	}
	if _, err := provs[1].Mesh().FetchBlob(ctx, provs[0].ID(), out.Outputs, 0); err == nil {
		t.Fatal("another provider fetched the job's outputs from the winner")
	}

	// An input the client does not hold is refused before anything is sent.
	sub.Spec.Inputs = []job.Input{{Name: "missing", CID: job.ModuleCID([]byte("absent")).String()}}
	if _, err := client.Submit(ctx, sub, nil); !errors.Is(err, ErrBadSubmission) {
		t.Fatalf("missing input: %v, want ErrBadSubmission", err)
	}
}
