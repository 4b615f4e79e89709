//go:build linux

package executor_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/computemesh/computemesh/executor"
)

// outputsSize is the bytes of regular files and the entries under dir.
func outputsSize(tb testing.TB, dir string) (size int64, entries int) {
	tb.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		entries++
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			size += fi.Size()
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("measure outputs: %v", err)
	}
	return size, entries
}

// wantDiskStopped checks that res is a run stopped for its outputs, which
// stayed within the task's bound plus slack.
func wantDiskStopped(tb testing.TB, res executor.Result, task executor.Task, reason string, slack uint64) {
	tb.Helper()
	if !res.DiskExceeded || res.ExitCode != executor.ExitCodeAbnormal || !strings.Contains(res.Reason, reason) {
		tb.Fatalf("disk exceeded %v, exit %d, reason %q: want the job stopped for its outputs (%q)\nstdout: %q\nstderr: %q",
			res.DiskExceeded, res.ExitCode, res.Reason, reason, res.Stdout, res.Stderr)
	}
	size, entries := outputsSize(tb, task.OutputsDir)
	tb.Logf("stopped after %v with %d bytes in %d entries (limit %d bytes, %d files): %s",
		res.Duration, size, entries, task.DiskBytes, task.MaxFiles, res.Reason)
	if task.DiskBytes > 0 && uint64(size) > task.DiskBytes+slack {
		tb.Errorf("outputs grew to %d bytes, past the limit of %d by more than %d", size, task.DiskBytes, slack)
	}
}

// TestExecDiskFiller runs commands that fill their outputs directory: each
// is stopped once over its bound, well before it would have finished.
func TestExecDiskFiller(t *testing.T) {
	e := newExec(t, []string{"/bin/dd", "/bin/sh"})
	t.Run("bytes", func(t *testing.T) {
		out := t.TempDir()
		task := executor.Task{
			Command: "/bin/dd",
			// 4 GiB unless stopped.
			Args:       []string{"if=/dev/zero", "of=" + filepath.Join(out, "fill"), "bs=1M", "count=4096"},
			Timeout:    2 * time.Minute,
			OutputsDir: out, DiskBytes: 8 << 20, MaxFiles: 100,
		}
		res := execRun(t, e, task)
		wantDiskStopped(t, res, task, "over the limit of 8388608 bytes", fileSlack)
	})
	t.Run("files", func(t *testing.T) {
		out := t.TempDir()
		task := sh(`i=0; while [ $i -lt 100000 ]; do : > "$COMPUTEMESH_OUTPUTS/f$i"; i=$((i+1)); done`)
		task.Timeout, task.OutputsDir, task.DiskBytes, task.MaxFiles = 2*time.Minute, out, 1<<20, 50
		res := execRun(t, e, task)
		wantDiskStopped(t, res, task, "more than 50 files", executor.DiskSlack)
	})
	t.Run("ignores SIGXFSZ", func(t *testing.T) {
		// A writer that ignores the file-size limit's signal gets EFBIG
		// and ends on its own: the outputs it left still measure over.
		out := t.TempDir()
		task := sh(`trap '' XFSZ; exec /bin/dd if=/dev/zero of="$COMPUTEMESH_OUTPUTS/fill" bs=1M count=4096`)
		task.Timeout, task.OutputsDir, task.DiskBytes, task.MaxFiles = 2*time.Minute, out, 8<<20, 100
		res := execRun(t, e, task)
		wantDiskStopped(t, res, task, "over the limit of 8388608 bytes", fileSlack)
	})
	t.Run("over at exit", func(t *testing.T) {
		// Three files within the file-size limit, over the bound together,
		// written and done before the watcher may look: the check after
		// the run finds them.
		out := t.TempDir()
		task := sh(`for f in a b c; do /bin/dd if=/dev/zero of="$COMPUTEMESH_OUTPUTS/$f" bs=1M count=4 2>/dev/null || exit 9; done`)
		task.Timeout, task.OutputsDir, task.DiskBytes, task.MaxFiles = 2*time.Minute, out, 8<<20, 100
		res := execRun(t, e, task)
		wantDiskStopped(t, res, task, "over the limit of 8388608 bytes", filesSlack)
	})
	t.Run("within", func(t *testing.T) {
		out := t.TempDir()
		task := executor.Task{
			Command:    "/bin/dd",
			Args:       []string{"if=/dev/zero", "of=" + filepath.Join(out, "fill"), "bs=1M", "count=2"},
			Timeout:    time.Minute,
			OutputsDir: out, DiskBytes: 8 << 20, MaxFiles: 100,
		}
		res := execRun(t, e, task)
		execWantExit(t, res, 0)
		if res.DiskExceeded {
			t.Errorf("a job within its bound reported DiskExceeded: %q", res.Reason)
		}
		if size, _ := outputsSize(t, out); size != 2<<20 {
			t.Errorf("outputs: %d bytes, want %d", size, 2<<20)
		}
	})
	t.Run("no bound", func(t *testing.T) {
		out := t.TempDir()
		task := sh(`echo hi > "$COMPUTEMESH_OUTPUTS/a"`)
		task.OutputsDir = out
		res := execRun(t, e, task)
		execWantExit(t, res, 0)
		if _, err := os.Stat(filepath.Join(out, "a")); err != nil || res.DiskExceeded {
			t.Errorf("output %v, disk exceeded %v", err, res.DiskExceeded)
		}
	})
}

// fileSlack is how far past its bound a job that writes one file may take
// its outputs: the file-size limit lets a file grow one byte past the
// bound, however fast it is written and however late the watcher looks.
const fileSlack = 1

// filesSlack is the overshoot a test accepts where the watcher alone stops
// a job (files each within the file-size limit): it measures the outputs
// every few milliseconds, less often on a loaded machine, so a fast writer
// gets ahead of it (seen: 172 MB in one CI interval).
const filesSlack = 4 * executor.DiskSlack

// TestDockerDiskFiller runs containers that fill their outputs directory.
func TestDockerDiskFiller(t *testing.T) {
	cli := dockerClient(t)
	img := buildDockerJobImage(t, cli)
	d := newDocker(t)
	task := func(out string, args ...string) executor.Task {
		if err := os.Chmod(out, 0o777); err != nil { // the job runs as nobody
			t.Fatal(err)
		}
		return executor.Task{Image: img, Args: args, Timeout: 2 * time.Minute, OutputsDir: out, DiskBytes: 8 << 20, MaxFiles: 100}
	}
	t.Run("bytes", func(t *testing.T) {
		t.Parallel()
		tk := task(t.TempDir(), "fill", "4096") // 4 GiB unless stopped
		res := dockerRun(t, d, tk)
		wantDiskStopped(t, res, tk, "over the limit of 8388608 bytes", fileSlack)
	})
	t.Run("files", func(t *testing.T) {
		t.Parallel()
		tk := task(t.TempDir(), "files", "100000")
		res := dockerRun(t, d, tk)
		wantDiskStopped(t, res, tk, "more than 100 files", filesSlack)
	})
	t.Run("within", func(t *testing.T) {
		t.Parallel()
		tk := task(t.TempDir(), "fill", "2")
		res := dockerRun(t, d, tk)
		dockerWantExit(t, res, 0)
		if res.DiskExceeded || !strings.Contains(string(res.Stdout), "filled 2") {
			t.Errorf("disk exceeded %v (%q), stdout %q", res.DiskExceeded, res.Reason, res.Stdout)
		}
	})
}
