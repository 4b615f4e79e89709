//go:build linux

package executor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// unconfinable returns an executor that behaves as where confinement is not
// available (a kernel without Landlock, say).
func unconfinable(t *testing.T, opts ...ExecOption) *Exec {
	t.Helper()
	e, err := NewExec([]string{"/bin/sh", "/bin/cat"}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	e.confiner, e.reason = nil, "Landlock: this kernel does not have it (test)"
	return e
}

func TestExecRefusedWithoutConfinement(t *testing.T) {
	e := unconfinable(t)
	if err := e.Available(t.Context()); err == nil || !strings.Contains(err.Error(), "cannot be confined") ||
		!strings.Contains(err.Error(), "Landlock") || !strings.Contains(err.Error(), "--exec-unconfined") {
		t.Errorf("Available: %v, want the reason and the way out", err)
	}
	c := e.Confinement()
	if c.Confined() || !strings.HasPrefix(c.String(), "refused: ") {
		t.Errorf("Confinement: %+v, %q", c, c)
	}
	task := Task{Command: "/bin/cat", Args: []string{"/etc/hostname"}}
	if err := e.Validate(t.Context(), task); !errors.Is(err, ErrInvalidTask) || !strings.Contains(err.Error(), "command: exec is refused") {
		t.Errorf("Validate: %v", err)
	}
	if res, err := e.Run(t.Context(), task); !errors.Is(err, ErrInvalidTask) || len(res.Stdout) != 0 {
		t.Errorf("Run: %v, stdout %q", err, res.Stdout)
	}
}

// With --exec-unconfined the command runs as before confinement existed:
// it reads what the node's user reads, under its limits still.
func TestExecUnconfined(t *testing.T) {
	e := unconfinable(t, WithExecUnconfined(true))
	if err := e.Available(context.Background()); err != nil {
		t.Fatalf("Available: %v", err)
	}
	if c := e.Confinement(); c.Confined() || !strings.HasPrefix(c.String(), "UNCONFINED: ") {
		t.Errorf("Confinement: %q", c)
	}
	secret := filepath.Join(t.TempDir(), "identity.key")
	if err := os.WriteFile(secret, []byte("SECRET"), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := e.Run(t.Context(), Task{Command: "/bin/cat", Args: []string{secret}, Timeout: 30 * time.Second})
	if err != nil || res.ExitCode != 0 || string(res.Stdout) != "SECRET" {
		t.Errorf("unconfined cat: %v, exit %d, stdout %q", err, res.ExitCode, res.Stdout)
	}
	res, err = e.Run(t.Context(), Task{Command: "/bin/sh", Args: []string{"-c", "ulimit -v; ulimit -c"}, MemoryBytes: 64 << 20, Timeout: 30 * time.Second})
	if err != nil || string(res.Stdout) != "65536\n0\n" {
		t.Errorf("unconfined limits: %v, stdout %q, stderr %q", err, res.Stdout, res.Stderr)
	}
}
