package node

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
)

// A job whose outputs hold a link to a host file (symbolic or hard) does
// not bring that file back: collecting its outputs fails, naming the link.
// Where exec is confined (Landlock) the link itself is refused first, so
// either defence may answer; what matters is that the file never comes back.
// store's TestAddDirRefusesLinks covers collection alone.
func TestOutputsLinksNotCollected(t *testing.T) {
	t.Parallel()
	canary := filepath.Join(t.TempDir(), "canary")
	secret := []byte("CANARY-outputs-links")
	if err := os.WriteFile(canary, secret, 0o644); err != nil {
		t.Fatal(err)
	}
	small := job.Resources{CPUMillis: 2000, MemoryBytes: 1 << 30}
	client, _ := meshOf(t, "test-outlinks",
		Config{Region: "eu-west", Rates: job.Rates{CPUHour: job.Nano}, Capacity: small},
		Config{Region: "eu-west", Rates: job.Rates{CPUHour: job.Nano}, Capacity: small,
			Executors: []string{job.ExecutorWASM, job.ExecutorExec}, ExecAllow: []string{"/bin/sh"}})
	for _, tt := range []struct{ name, script, entry string }{
		{"symlink", `ln -s "$1" "$COMPUTEMESH_OUTPUTS/leak"`, "leak"},
		{"symlinked dir", `mkdir "$COMPUTEMESH_OUTPUTS/a" && ln -s "$(dirname "$1")" "$COMPUTEMESH_OUTPUTS/a/dir"`, "a/dir"},
		{"hard link", `ln "$1" "$COMPUTEMESH_OUTPUTS/hard"`, "hard"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			spec := &job.Spec{
				Executor: job.ExecutorExec, Command: "/bin/sh", Name: "sh",
				Args:      []string{"-c", tt.script + "; echo done", "sh", canary},
				Resources: job.Resources{CPUMillis: 1000, MemoryBytes: 256 << 20}, TimeoutMS: 30_000, Policy: job.PolicyCost,
			}
			out := submit(t, client, Submission{Spec: spec, BidWindow: 5 * time.Second}, nil)
			collectionRefused := strings.Contains(out.Error, tt.entry+": ") && strings.Contains(out.Error, "not collectable")
			linkRefused := bytes.Contains(out.Stderr, []byte("ln: failed to create"))
			if out.Outputs != "" || !(collectionRefused || linkRefused) {
				t.Fatalf("state %s, outputs %q, error %q, stderr %q; want the link or its collection refused naming %s",
					out.State, out.Outputs, out.Error, out.Stderr, tt.entry)
			}
			if bytes.Contains(out.Stdout, secret) || bytes.Contains(out.Stderr, secret) {
				t.Fatal("the canary came back")
			}
			if b, _ := os.ReadFile(canary); !bytes.Equal(b, secret) {
				t.Fatalf("canary changed: %q", b)
			}
		})
	}
}
