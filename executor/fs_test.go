package executor_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The guest sees its inputs read-only at /inputs, may write /outputs, and
// sees nothing else of the host.
func TestRunFilesystem(t *testing.T) {
	w := newWASM(t)
	in, out := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(in, "in.txt"), []byte("shout"), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, string, int) {
		task := guestTask(t, args...)
		task.InputsDir, task.OutputsDir, task.Timeout = in, out, 30*time.Second
		r, err := w.Run(context.Background(), task)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return string(r.Stdout), string(r.Stderr), r.ExitCode
	}
	if stdout, stderr, code := run("cat", "/inputs/in.txt"); code != 0 || stdout != "shout" {
		t.Fatalf("reading an input: exit %d, %q %q", code, stdout, stderr)
	}
	if _, _, code := run("upper"); code != 0 {
		t.Fatalf("upper: exit %d", code)
	}
	if b, err := os.ReadFile(filepath.Join(out, "upper.txt")); err != nil || string(b) != "SHOUT" {
		t.Fatalf("output: %q, %v", b, err)
	}
	if _, stderr, code := run("write", "/inputs/x"); code == 0 {
		t.Fatal("writing into /inputs succeeded")
	} else if _, err := os.Stat(filepath.Join(in, "x")); err == nil {
		t.Fatalf("the guest wrote into the inputs dir (stderr %q)", stderr)
	}
	for _, escape := range []string{"/etc/passwd", "/inputs/../../etc/passwd", "../etc/passwd"} {
		if stdout, _, code := run("cat", escape); code == 0 || strings.Contains(stdout, "root:") {
			t.Fatalf("reading %s: exit %d, %q; want a refusal", escape, code, stdout)
		}
	}
}
