//go:build linux

package executor_test

import (
	"context"
	"testing"
	"time"

	"github.com/computemesh/computemesh/executor"
)

// BenchmarkExecTrue measures the executor's own cost per run: /bin/true,
// started, waited for and its work directory removed.
func BenchmarkExecTrue(b *testing.B) {
	e := newExec(b, []string{"/bin/true"})
	task := executor.Task{Command: "/bin/true", Timeout: time.Minute}
	for b.Loop() {
		res, err := e.Run(context.Background(), task)
		if err != nil || res.ExitCode != 0 {
			b.Fatalf("Run: %v, exit %d, stderr %q", err, res.ExitCode, res.Stderr)
		}
	}
}
