package node

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/computemesh/computemesh/content"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/store"
	"github.com/ipfs/go-cid"
)

// A job that fills its outputs past its reserved disk is stopped while it
// runs, charged for the time it used, reported as over its disk, and its
// outputs are not kept.
func TestDiskFillerIsStoppedAndCharged(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("prlimit"); err != nil {
		t.Skip("prlimit (util-linux) is not installed: the exec executor is not offered")
	}
	small := job.Resources{CPUMillis: 2000, MemoryBytes: 1 << 30, DiskBytes: 1 << 30}
	client, provs := meshOf(t, "test-disk-filler",
		Config{Region: "eu-west", Rates: job.Rates{CPUHour: job.Nano}, Capacity: small, DataDir: t.TempDir(),
			Executors: []string{job.ExecutorExec}, ExecAllow: []string{"/bin/sh"}})
	spec := &job.Spec{
		Executor: job.ExecutorExec, Command: "/bin/sh", Name: "sh",
		// 4 GiB unless stopped.
		Args:      []string{"-c", `dd if=/dev/zero of="$COMPUTEMESH_OUTPUTS/fill" bs=1M count=4096`},
		Resources: job.Resources{CPUMillis: 1000, MemoryBytes: 256 << 20, DiskBytes: 10 << 20}, TimeoutMS: 120_000,
		Policy: job.PolicyCost,
	}
	out := submit(t, client, Submission{Spec: spec, BidWindow: 5 * time.Second}, nil)
	if out.State != job.StateFailed || !strings.Contains(out.Error, "disk limit exceeded") || !strings.Contains(out.Error, "10MiB") {
		t.Fatalf("state %s, error %q: want the job failed for its disk", out.State, out.Error)
	}
	if out.Charge <= 0 {
		t.Errorf("charge %s: a run stopped for its disk is charged for its time", out.Charge)
	}
	if out.Outputs != "" {
		t.Errorf("outputs %s: the outputs of a run over its disk are not kept", out.Outputs)
	}
	// Nothing of the run is left on the provider: its run directories are
	// gone and its store holds no blob of 1 MiB or more.
	runs, _ := os.ReadDir(filepath.Join(provs[0].cfg.DataDir, "runs"))
	if len(runs) != 0 {
		t.Errorf("the provider kept %d run directories", len(runs))
	}
	blobs, _ := os.ReadDir(provs[0].Store().Dir())
	for _, b := range blobs {
		if fi, err := b.Info(); err == nil && fi.Size() >= 1<<20 {
			t.Errorf("the provider's store kept %s (%d bytes)", b.Name(), fi.Size())
		}
	}
}

// A hostile provider answers a job that reserved 1 MiB of disk with a
// manifest of 40 files of 2 MiB each, all of which it really serves: the
// client fails the job with an error naming the manifest, the provider and
// the limit, and fetches none of the files (nor keeps the manifest). A
// manifest within the limit is fetched (the setup works), and a manifest
// that understates a file's size gets nothing past the size it declared.
func TestHostileProviderOversizedManifest(t *testing.T) {
	t.Parallel()
	client, provs := testMesh(t, []provSpec{{"eu-west", "0.5"}})
	hostile := provs[0]
	manifest := func(t *testing.T, n, size int, declared int64) (string, []string) {
		t.Helper()
		m := &store.Manifest{V: job.Version}
		var cids []string
		for i := range n {
			b := make([]byte, size)
			copy(b, fmt.Sprintf("%s %d", t.Name(), i)) // distinct blobs
			c, err := hostile.Store().Put(b, cid.Raw)
			if err != nil {
				t.Fatal(err)
			}
			m.Entries = append(m.Entries, store.Entry{Path: fmt.Sprintf("f%05d", i), CID: c.String(), Size: declared})
			cids = append(cids, c.String())
		}
		c, err := hostile.Store().Put(job.Encode(m), job.CodecJSON)
		if err != nil {
			t.Fatal(err)
		}
		hostile.content.Grant(client.ID(), time.Now().Add(time.Minute), append(cids, c.String())...)
		return c.String(), cids
	}
	held := func(cs ...string) int {
		n := 0
		for _, s := range cs {
			if c, err := job.ParseCID(s); err == nil && client.Store().Has(c) {
				n++
			}
		}
		return n
	}
	settle := func(t *testing.T, outputs string, disk uint64) *job.Outcome {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		spec := &job.Spec{Resources: job.Resources{DiskBytes: disk}}
		out := &job.Outcome{}
		client.client.Settle(ctx, spec, hostile.ID().String(), &job.Result{Outputs: outputs, Charge: 1}, out)
		return out
	}

	t.Run("oversized", func(t *testing.T) {
		m, entries := manifest(t, 40, 2<<20, 2<<20)
		out := settle(t, m, 1<<20)
		if out.State != job.StateFailed || !strings.Contains(out.Error, m) || !strings.Contains(out.Error, hostile.ID().String()) ||
			!strings.Contains(out.Error, "resources.disk 1MiB") {
			t.Fatalf("state %s, error %q: want the job failed naming the manifest, the provider and the limit", out.State, out.Error)
		}
		if n := held(append(entries, m)...); n != 0 {
			t.Errorf("the client fetched %d of the manifest's blobs", n)
		}
	})
	t.Run("too many files", func(t *testing.T) {
		m, entries := manifest(t, content.MaxOutputFiles+1, 1, 1)
		out := settle(t, m, 0)
		if out.State != job.StateFailed || !strings.Contains(out.Error, fmt.Sprintf("%d files", content.MaxOutputFiles+1)) {
			t.Fatalf("state %s, error %q: want the job failed for its file count", out.State, out.Error)
		}
		if n := held(append(entries, m)...); n != 0 {
			t.Errorf("the client fetched %d of the manifest's blobs", n)
		}
	})
	t.Run("understated sizes", func(t *testing.T) {
		m, entries := manifest(t, 4, 2<<20, 1024)
		out := settle(t, m, 1<<20)
		if out.State != job.StateFailed || !strings.Contains(out.Error, "over the limit of 1024") {
			t.Fatalf("state %s, error %q: want the fetch stopped at the declared size", out.State, out.Error)
		}
		if n := held(entries...); n != 0 {
			t.Errorf("the client fetched %d files past their declared size", n)
		}
	})
	t.Run("within the limit", func(t *testing.T) {
		m, entries := manifest(t, 4, 100<<10, 100<<10)
		out := settle(t, m, 1<<20)
		if out.State != job.StateCompleted || out.Outputs != m {
			t.Fatalf("state %s, outputs %q, error %q: want the outputs fetched", out.State, out.Outputs, out.Error)
		}
		if n := held(append(entries, m)...); n != len(entries)+1 {
			t.Errorf("the client holds %d of the %d blobs", n, len(entries)+1)
		}
	})
}

// A client whose inputs declare more than content.MaxInputBytes is refused at
// submission, and a provider asked to stage them (a hostile client that
// skips the check) fetches none of their files.
func TestInputsOverLimit(t *testing.T) {
	t.Parallel()
	client, provs := testMesh(t, []provSpec{{"eu-west", "0.5"}})
	m := &store.Manifest{V: job.Version}
	var cids []string
	for i := range content.MaxInputBytes/store.MaxBlob + 1 {
		c, err := client.Store().Put([]byte(fmt.Sprintf("input %d", i)), cid.Raw)
		if err != nil {
			t.Fatal(err)
		}
		// Each declares the most a file may be: the total is over the limit.
		m.Entries = append(m.Entries, store.Entry{Path: fmt.Sprintf("f%03d", i), CID: c.String(), Size: store.MaxBlob})
		cids = append(cids, c.String())
	}
	mc, err := client.Store().Put(job.Encode(m), job.CodecJSON)
	if err != nil {
		t.Fatal(err)
	}
	inputs := []job.Input{{Name: "big", CID: mc.String()}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sub := guestSpec(t, "upper")
	sub.Spec.Inputs = inputs
	if _, err := client.Submit(ctx, sub, nil); !errors.Is(err, ErrBadSubmission) || !strings.Contains(err.Error(), "inputs limit") {
		t.Fatalf("submission: %v, want ErrBadSubmission naming the inputs limit", err)
	}
	client.content.Grant(provs[0].ID(), time.Now().Add(time.Minute), append(cids, mc.String())...)
	err = provs[0].content.StageInputs(ctx, client.ID(), inputs, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "inputs limit") || !strings.Contains(err.Error(), mc.String()) {
		t.Fatalf("staging: %v, want a refusal naming the manifest and the inputs limit", err)
	}
	for _, s := range cids {
		if c, _ := job.ParseCID(s); provs[0].Store().Has(c) {
			t.Fatalf("the provider fetched %s", s)
		}
	}
}
