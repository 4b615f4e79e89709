package node

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/computemesh/computemesh/executor"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/mesh"
)

// An exec job runs a program the provider's owner allowed, sees its inputs
// and leaves outputs; a program not on the allowlist is declined.
func TestEndToEndExecJob(t *testing.T) {
	t.Parallel()
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

// An exec job of an allowlisted program cannot read the provider's
// identity key (which holds its credits) nor its API token, through the
// whole mesh: by absolute path, nor relative to its work directory (which
// lies in the provider's data dir), nor by linking it into its outputs.
func TestExecJobCannotReadProviderKey(t *testing.T) {
	t.Parallel()
	e, err := executor.NewExec([]string{"/bin/sh"})
	if err != nil {
		t.Fatal(err)
	}
	c := e.Confinement()
	e.Close()
	if !c.Confined() {
		t.Skipf("exec cannot be confined here: %s", c.Reason)
	}
	small := job.Resources{CPUMillis: 2000, MemoryBytes: 1 << 30}
	provDir := t.TempDir()
	client, provs := meshOf(t, "test-exec-key",
		Config{Region: "eu-west", Rates: job.Rates{CPUHour: job.Nano}, Capacity: small},
		Config{Region: "eu-west", Rates: job.Rates{CPUHour: job.Nano}, Capacity: small, DataDir: provDir,
			Executors: []string{job.ExecutorWASM, job.ExecutorExec}, ExecAllow: []string{"/bin/cat", "/bin/sh"}})
	if got := provs[1].Info().ExecConfinement; !strings.HasPrefix(got, "confined: ") {
		t.Errorf("provider's Info().ExecConfinement = %q", got)
	}
	key, err := os.ReadFile(filepath.Join(provDir, mesh.KeyFile))
	if err != nil {
		t.Fatalf("the provider has no identity key in its data dir: %v", err)
	}
	for _, tc := range []struct {
		command string
		args    []string
	}{
		{"/bin/cat", []string{filepath.Join(provDir, mesh.KeyFile)}},
		{"/bin/cat", []string{filepath.Join(provDir, "api.token")}},
		{"/bin/sh", []string{"-c", `for d in . .. ../.. ../../.. ../../../..; do cat $d/identity.key; done; ls -R ../../..`}},
		{"/bin/sh", []string{"-c", `ln ` + filepath.Join(provDir, mesh.KeyFile) + ` "$COMPUTEMESH_OUTPUTS/k"; ln -s ` + filepath.Join(provDir, mesh.KeyFile) + ` "$COMPUTEMESH_OUTPUTS/s"; cp ` + filepath.Join(provDir, mesh.KeyFile) + ` "$COMPUTEMESH_OUTPUTS/c"; true`}},
	} {
		spec := &job.Spec{
			Executor: job.ExecutorExec, Command: tc.command, Name: filepath.Base(tc.command), Args: tc.args,
			Resources: job.Resources{CPUMillis: 1000, MemoryBytes: 256 << 20}, TimeoutMS: 30_000, Policy: job.PolicyCost,
		}
		out := submit(t, client, Submission{Spec: spec, BidWindow: 5 * time.Second}, nil)
		if out.Provider != provs[1].ID().String() {
			t.Fatalf("%s %q: ran on %s (%s), not the exec provider", tc.command, tc.args, out.Provider, out.Error)
		}
		leak := string(out.Stdout) + string(out.Stderr) + out.Error
		if strings.Contains(leak, string(key)) || strings.Contains(leak, "identity.key\n") {
			t.Errorf("%s %q leaked the key or listed the data dir: %q", tc.command, tc.args, leak)
		}
		if out.Outputs != "" {
			t.Errorf("%s %q left outputs %s (the key linked or copied?)", tc.command, tc.args, out.Outputs)
		}
		t.Logf("%s %q: %s, stderr %q", tc.command, tc.args, out.State, out.Stderr)
	}
}
