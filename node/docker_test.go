package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/computemesh/computemesh/content"
	"github.com/computemesh/computemesh/job"
	"github.com/ipfs/go-cid"
)

// dockerImage builds the executor's test program into an image FROM
// scratch (no registry is needed) and removes it at the end. Without a
// Docker daemon the test is skipped, except under CI=true, where this
// project's machines run one.
func dockerImage(t *testing.T) string {
	t.Helper()
	if err := exec.Command("docker", "info").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no Docker daemon answers under CI=true: %v", err)
		}
		t.Skipf("no Docker daemon answers (docker info: %v)", err)
	}
	dir := t.TempDir()
	build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", filepath.Join(dir, "dockerjob"), "../executor/testdata/dockerjob")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the test program: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nCOPY dockerjob /dockerjob\nENTRYPOINT [\"/dockerjob\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	tag := "computemesh-test/nodejob:" + hex.EncodeToString(b)
	if out, err := exec.Command("docker", "build", "-q", "-t", tag, dir).CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", tag).Run() })
	return tag
}

// A docker job goes to a provider that runs docker and has the image; one
// without the image declines; inputs and outputs are mounted.
func TestEndToEndDockerJob(t *testing.T) {
	t.Parallel()
	image := dockerImage(t)
	small := job.Resources{CPUMillis: 2000, MemoryBytes: 1 << 30}
	client, provs := meshOf(t, "test-docker",
		Config{Region: "eu-west", Rates: job.Rates{CPUHour: job.Nano}, Capacity: small},
		Config{Region: "eu-west", Rates: job.Rates{CPUHour: 2 * job.Nano}, Capacity: small,
			Executors: []string{job.ExecutorWASM, job.ExecutorDocker}})
	if got := provs[1].Capacity().Executors; len(got) != 2 {
		t.Fatalf("the docker provider offers %v", got)
	}
	in, err := client.Store().Put([]byte("from the client"), 0x55)
	if err != nil {
		t.Fatal(err)
	}
	spec := &job.Spec{
		Executor: job.ExecutorDocker, Image: image, Name: "dockerjob", Args: []string{"write"},
		Resources: job.Resources{CPUMillis: 1000, MemoryBytes: 128 << 20}, TimeoutMS: 60_000, Policy: job.PolicyCost,
		Inputs: []job.Input{{Name: "in.txt", CID: in.String()}},
	}
	out := submit(t, client, Submission{Spec: spec, BidWindow: 5 * time.Second}, nil)
	if out.State != job.StateCompleted || out.Provider != provs[1].ID().String() {
		t.Fatalf("docker job: state %s on %s (%s), stderr %q", out.State, out.Provider, out.Error, out.Stderr)
	}
	if out.Outputs == "" {
		t.Fatalf("no outputs from the docker job")
	}
	st, err := client.content.Stat(context.Background(), mustCID(t, out.Outputs), content.OutputsBudget(0))
	if err != nil || st.Files != 1 {
		t.Fatalf("outputs: %v %+v", err, st)
	}
	// The job's memory limit is real.
	spec.Args, spec.Inputs = []string{"alloc", "512"}, nil
	spec.Resources.MemoryBytes = 64 << 20
	out = submit(t, client, Submission{Spec: spec, BidWindow: 5 * time.Second}, nil)
	if out.State != job.StateFailed || !strings.HasPrefix(out.Error, "memory limit exceeded") {
		t.Fatalf("memory bomb: state %s, error %q", out.State, out.Error)
	}
	// A job that asks for network access finds no provider whose owner
	// allows it.
	spec.Network, spec.Args, spec.Resources.MemoryBytes = true, []string{"hello"}, 128<<20
	out = submit(t, client, Submission{Spec: spec, BidWindow: 5 * time.Second}, nil)
	if out.State != job.StateUnscheduled || !strings.Contains(out.Error, "declined: network") {
		t.Fatalf("network asked: state %s, error %q", out.State, out.Error)
	}
	spec.Network = false
	// A provider without the image declines it.
	spec.Image, spec.Args = "computemesh-test/absent:1", []string{"hello"}
	out = submit(t, client, Submission{Spec: spec, BidWindow: 5 * time.Second}, nil)
	if out.State != job.StateUnscheduled || !strings.Contains(out.Error, "declined: image") {
		t.Fatalf("absent image: state %s, error %q", out.State, out.Error)
	}
}

func mustCID(t testing.TB, s string) cid.Cid {
	t.Helper()
	c, err := job.ParseCID(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
