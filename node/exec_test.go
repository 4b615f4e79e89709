package node

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
)

// An exec job runs a program the provider's owner allowed, sees its inputs
// and leaves outputs; a program not on the allowlist is declined.
func TestEndToEndExecJob(t *testing.T) {
	if _, err := exec.LookPath("prlimit"); err != nil {
		t.Skip("prlimit (util-linux) is not installed: the exec executor is not offered")
	}
	small := job.Resources{CPUMillis: 2000, MemoryBytes: 1 << 30}
	client, provs := meshOf(t, "test-exec",
		Config{Region: "eu-west", Rates: job.Rates{CPUHour: job.Nano}, Capacity: small},
		Config{Region: "eu-west", Rates: job.Rates{CPUHour: job.Nano}, Capacity: small,
			Executors: []string{job.ExecutorWASM, job.ExecutorExec}, ExecAllow: []string{"/bin/sh"}})
	in, err := client.Store().Put([]byte("via exec"), 0x55)
	if err != nil {
		t.Fatal(err)
	}
	spec := &job.Spec{
		Executor: job.ExecutorExec, Command: "/bin/sh", Name: "sh",
		Args:      []string{"-c", `tr a-z A-Z < "$COMPUTEMESH_INPUTS/in.txt" > "$COMPUTEMESH_OUTPUTS/out.txt"; echo done`},
		Resources: job.Resources{CPUMillis: 1000, MemoryBytes: 256 << 20}, TimeoutMS: 30_000, Policy: job.PolicyCost,
		Inputs: []job.Input{{Name: "in.txt", CID: in.String()}},
	}
	out := submit(t, client, Submission{Spec: spec, BidWindow: 5 * time.Second}, nil)
	if out.State != job.StateCompleted || out.Provider != provs[1].ID().String() || strings.TrimSpace(string(out.Stdout)) != "done" || out.Outputs == "" {
		t.Fatalf("exec job: state %s on %s, stdout %q, outputs %q (%s)", out.State, out.Provider, out.Stdout, out.Outputs, out.Error)
	}
	spec.Command, spec.Inputs = "/bin/bash", nil
	out = submit(t, client, Submission{Spec: spec, BidWindow: 5 * time.Second}, nil)
	if out.State != job.StateUnscheduled || !strings.Contains(out.Error, "declined: command") {
		t.Fatalf("command not allowed: state %s, error %q", out.State, out.Error)
	}
}
