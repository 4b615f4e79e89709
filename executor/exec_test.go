//go:build linux

package executor_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/computemesh/computemesh/executor"
)

// These tests run programs of the host: /bin/sh (dash or bash), coreutils and
// prlimit from util-linux, as on Debian. Each executor allows only the
// commands its test needs.

// newExec returns an exec executor allowing allow, closed at the end of tb.
// It skips the test when a command or prlimit is missing.
func newExec(tb testing.TB, allow []string, opts ...executor.ExecOption) *executor.Exec {
	tb.Helper()
	for _, a := range allow {
		if !filepath.IsAbs(a) {
			continue // a name, resolved by NewExec
		}
		if _, err := os.Stat(a); err != nil {
			tb.Skipf("%s is missing: %v", a, err)
		}
	}
	e, err := executor.NewExec(allow, opts...)
	if err != nil {
		tb.Fatalf("NewExec: %v", err)
	}
	tb.Cleanup(func() {
		if err := e.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	if err := e.Available(context.Background()); err != nil {
		tb.Skipf("exec executor not available: %v", err)
	}
	return e
}

func execRun(tb testing.TB, e *executor.Exec, task executor.Task) executor.Result {
	tb.Helper()
	res, err := e.Run(context.Background(), task)
	if err != nil {
		tb.Fatalf("Run %s %q: %v", task.Command, task.Args, err)
	}
	return res
}

func execWantExit(tb testing.TB, res executor.Result, code int) {
	tb.Helper()
	if res.ExitCode != code || res.TimedOut || res.MemoryExceeded {
		tb.Fatalf("exit %d, timed out %v, memory %v, reason %q; want exit %d\nstdout: %q\nstderr: %q",
			res.ExitCode, res.TimedOut, res.MemoryExceeded, res.Reason, code, res.Stdout, res.Stderr)
	}
}

// sh is a task running script with /bin/sh -c.
func sh(script string) executor.Task {
	return executor.Task{Command: "/bin/sh", Args: []string{"-c", script}, Timeout: 30 * time.Second}
}

// processGone reports whether pid has exited (a zombie counts: the process
// it was is gone, whoever reaps it).
func processGone(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	// "pid (comm) S ...": the state follows the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	return i >= 0 && i+2 < len(stat) && (stat[i+2] == 'Z' || stat[i+2] == 'X')
}

// waitGone waits up to 3 s for pid to be gone.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !processGone(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("process %d the job started is still running", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestNewExec(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, allow := range map[string][]string{
		"no allowlist":  nil,
		"empty":         {},
		"empty entry":   {""},
		"relative path": {"bin/sh"},
		"missing path":  {filepath.Join(dir, "gone")},
		"missing name":  {"computemesh-no-such-program"},
		"directory":     {dir},
		"not exec":      {plain},
	} {
		if e, err := executor.NewExec(allow); err == nil {
			e.Close()
			t.Errorf("%s: NewExec(%q) accepted", name, allow)
		}
	}
	for _, o := range []executor.ExecOption{
		executor.WithExecWorkRoot(""), executor.WithExecStopGrace(-1), executor.WithExecReadPaths("opt"),
		executor.WithExecEnv("LD_PRELOAD"), executor.WithExecEnv("L*"), executor.WithExecEnv("A=B"), executor.WithExecEnv("*"),
		executor.WithExecDefaults(0, 1, 1), executor.WithExecDefaults(1, 0, 1), executor.WithExecDefaults(1, 1, 0),
	} {
		if e, err := executor.NewExec([]string{"/bin/sh"}, o); err == nil {
			e.Close()
			t.Errorf("NewExec accepted a bad option")
		}
	}

	// A bare name is resolved through PATH, once, to an absolute path.
	e := newExec(t, []string{"sh", "/bin//echo"})
	cmds := e.Commands()
	if len(cmds) != 2 || !slices.Contains(cmds, "/bin/echo") {
		t.Fatalf("Commands() = %q", cmds)
	}
	for _, c := range cmds {
		if !filepath.IsAbs(c) || !e.Allowed(c) {
			t.Errorf("Commands() has %q: not absolute or not Allowed", c)
		}
	}
	if e.Allowed("sh") || e.Allowed("/bin//echo") {
		t.Errorf("Allowed matches what is not an absolute clean path")
	}
	var ex executor.Executor = e
	if ex.Name() != "exec" {
		t.Errorf("Name() = %q", ex.Name())
	}
}

func TestExec(t *testing.T) {
	t.Run("echo", func(t *testing.T) {
		t.Parallel()
		e := newExec(t, []string{"/bin/echo"})
		task := executor.Task{Command: "/bin/echo", Args: []string{"hello", "world"}, GPUs: 2}
		if err := e.Validate(t.Context(), task); err != nil {
			t.Fatalf("Validate: %v", err)
		}
		var logs dockerLogBuffer
		task.Logs = &logs
		res := execRun(t, e, task)
		execWantExit(t, res, 0)
		if string(res.Stdout) != "hello world\n" || len(res.Stderr) != 0 || res.Reason != "" {
			t.Errorf("stdout %q, stderr %q, reason %q", res.Stdout, res.Stderr, res.Reason)
		}
		if logs.String() != "hello world\n" {
			t.Errorf("logs %q", logs.String())
		}
		if res.Duration <= 0 || res.GPUSeconds != 2*res.Duration.Seconds() || res.CPUSeconds < 0 {
			t.Errorf("duration %v, GPU seconds %v, CPU seconds %v", res.Duration, res.GPUSeconds, res.CPUSeconds)
		}
	})

	t.Run("peak memory", func(t *testing.T) {
		t.Parallel()
		e := newExec(t, []string{"/bin/sh"})
		// The shell holds a 32 MB string.
		task := executor.Task{Command: "/bin/sh", Args: []string{"-c", `x=$(head -c 32000000 /dev/zero | tr '\0' a); echo ${#x}`},
			MemoryBytes: 512 << 20}
		res := execRun(t, e, task)
		execWantExit(t, res, 0)
		if res.PeakMemoryBytes < 32_000_000 {
			t.Errorf("PeakMemoryBytes = %d for a shell holding 32 MB", res.PeakMemoryBytes)
		}
	})

	t.Run("not allowed", func(t *testing.T) {
		t.Parallel()
		e := newExec(t, []string{"/bin/echo"})
		for _, cmd := range []string{"/bin/cat", "echo", "/bin/../bin/echo", "/bin/echo/"} {
			task := executor.Task{Command: cmd}
			for name, err := range map[string]error{
				"Validate": e.Validate(t.Context(), task),
				"Run":      func() error { _, err := e.Run(t.Context(), task); return err }(),
			} {
				if !errors.Is(err, executor.ErrCommandNotAllowed) || !errors.Is(err, executor.ErrInvalidTask) ||
					!strings.Contains(err.Error(), "command: "+cmd+" is not allowed") {
					t.Errorf("%s(%q) = %v, want ErrCommandNotAllowed naming it", name, cmd, err)
				}
			}
		}
	})

	t.Run("invalid tasks", func(t *testing.T) {
		t.Parallel()
		e := newExec(t, []string{"/bin/echo"})
		file := filepath.Join(t.TempDir(), "f")
		if err := os.WriteFile(file, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		ok := executor.Task{Command: "/bin/echo"}
		for want, modify := range map[string]func(*executor.Task){
			"command: empty":      func(tk *executor.Task) { tk.Command = "" },
			"module:":             func(tk *executor.Task) { tk.Module = []byte("\x00asm") },
			"image:":              func(tk *executor.Task) { tk.Image = "alpine" },
			"entrypoint:":         func(tk *executor.Task) { tk.Entrypoint = []string{"/bin/sh"} },
			"name:":               func(tk *executor.Task) { tk.Name = "x" },
			"deterministic:":      func(tk *executor.Task) { tk.Deterministic = true },
			"args[1]:":            func(tk *executor.Task) { tk.Args = []string{"a", "b\x00"} },
			"env: invalid":        func(tk *executor.Task) { tk.Env = map[string]string{"A=B": "c"} },
			"env: value of A":     func(tk *executor.Task) { tk.Env = map[string]string{"A": "\x00"} },
			"timeout:":            func(tk *executor.Task) { tk.Timeout = -1 },
			"max output:":         func(tk *executor.Task) { tk.MaxOutput = -1 },
			"cpu:":                func(tk *executor.Task) { tk.CPUMillis = -1 },
			"gpus:":               func(tk *executor.Task) { tk.GPUs = -1 },
			"inputs dir: \"rel\"": func(tk *executor.Task) { tk.InputsDir = "rel" },
			"outputs dir:":        func(tk *executor.Task) { tk.OutputsDir = file },
		} {
			task := ok
			modify(&task)
			err := e.Validate(t.Context(), task)
			if !errors.Is(err, executor.ErrInvalidTask) || !strings.Contains(err.Error(), want) {
				t.Errorf("Validate: %v, want ErrInvalidTask naming %q", err, want)
			}
			if _, err := e.Run(t.Context(), task); !errors.Is(err, executor.ErrInvalidTask) {
				t.Errorf("Run: %v, want ErrInvalidTask naming %q", err, want)
			}
		}
	})

	t.Run("exit status and stderr", func(t *testing.T) {
		t.Parallel()
		e := newExec(t, []string{"/bin/sh"})
		res := execRun(t, e, sh("echo to stderr >&2; exit 7"))
		execWantExit(t, res, 7)
		if string(res.Stderr) != "to stderr\n" || len(res.Stdout) != 0 || res.Reason != "" {
			t.Errorf("stdout %q, stderr %q, reason %q", res.Stdout, res.Stderr, res.Reason)
		}
	})

	t.Run("killed by a signal", func(t *testing.T) {
		t.Parallel()
		e := newExec(t, []string{"/bin/sh"})
		res := execRun(t, e, sh("kill -SEGV $$"))
		if res.ExitCode != executor.ExitCodeAbnormal || !strings.Contains(res.Reason, "killed by signal: segmentation fault") || res.TimedOut {
			t.Errorf("exit %d, reason %q, timed out %v", res.ExitCode, res.Reason, res.TimedOut)
		}
	})

	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		// A grace of a minute: a run that ends sooner ended at SIGTERM, not
		// at the SIGKILL after the grace.
		const grace = time.Minute
		e := newExec(t, []string{"/bin/sleep"}, executor.WithExecStopGrace(grace))
		start := time.Now()
		res := execRun(t, e, executor.Task{Command: "/bin/sleep", Args: []string{"1000"}, Timeout: 500 * time.Millisecond})
		elapsed := time.Since(start)
		if !res.TimedOut || res.ExitCode != executor.ExitCodeAbnormal || res.Reason != "timed out after 500ms" {
			t.Fatalf("timed out %v, exit %d, reason %q", res.TimedOut, res.ExitCode, res.Reason)
		}
		// sleep dies at SIGTERM: no grace needed.
		if elapsed >= grace {
			t.Errorf("took %v to stop: it waited for the kill after the %v grace", elapsed, grace)
		}
	})

	t.Run("timeout stops the process group", func(t *testing.T) {
		t.Parallel()
		e := newExec(t, []string{"/bin/sh"})
		// The background job says when its sleep ended by itself: it must
		// not, the timeout stops the whole group.
		task := sh("(sleep 100; echo slept) & echo $!; wait")
		// Long enough for sh to print the job's pid on a loaded machine
		// (500 ms was not, once).
		task.Timeout = 3 * time.Second
		res := execRun(t, e, task)
		if !res.TimedOut || strings.Contains(string(res.Stdout), "slept") {
			t.Fatalf("timed out %v, stdout %q", res.TimedOut, res.Stdout)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(res.Stdout)))
		if err != nil {
			t.Fatalf("stdout %q: %v", res.Stdout, err)
		}
		waitGone(t, pid)
	})

	t.Run("leftovers killed at exit", func(t *testing.T) {
		t.Parallel()
		e := newExec(t, []string{"/bin/sh"})
		// The background job holds stdout: the run must end with sh, not
		// with the pipe (then stdout would end with the job's "slept").
		res := execRun(t, e, sh("(sleep 100; echo slept) & echo $!"))
		execWantExit(t, res, 0)
		if strings.Contains(string(res.Stdout), "slept") {
			t.Errorf("stdout %q: waited for what the command left running", res.Stdout)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(res.Stdout)))
		if err != nil {
			t.Fatalf("stdout %q: %v", res.Stdout, err)
		}
		waitGone(t, pid)
	})

	t.Run("ignore SIGTERM", func(t *testing.T) {
		t.Parallel()
		const grace = 700 * time.Millisecond
		e := newExec(t, []string{"/bin/sh"}, executor.WithExecStopGrace(grace))
		// The shell must have set its trap when SIGTERM comes at the
		// timeout; on a loaded machine it may not have started by then
		// (it dies at SIGTERM before saying "ignoring", and the run says
		// nothing of the grace): again with twice the timeout.
		for timeout := 300 * time.Millisecond; ; timeout *= 2 {
			var logs dockerLogBuffer
			task := sh(`trap "" TERM; echo ignoring; sleep 100`)
			task.Timeout = timeout
			task.Logs = &logs
			start := time.Now()
			res := execRun(t, e, task)
			elapsed := time.Since(start)
			if !res.TimedOut || res.ExitCode != executor.ExitCodeAbnormal {
				t.Fatalf("timed out %v, exit %d, reason %q", res.TimedOut, res.ExitCode, res.Reason)
			}
			if len(res.Stdout) == 0 && timeout < time.Minute {
				t.Logf("the shell had not set its trap at the %v timeout: again with twice the timeout", timeout)
				continue
			}
			if string(res.Stdout) != "ignoring\n" || logs.String() != "ignoring\n" {
				t.Errorf("stdout %q, logs %q", res.Stdout, logs.String())
			}
			// SIGTERM (at the timeout) was ignored: only SIGKILL, a grace
			// later, ended the run. Load only makes it later.
			if elapsed < timeout+grace {
				t.Errorf("stopped after %v: SIGTERM at the %v timeout, the %v grace was not given", elapsed, timeout, grace)
			}
			return
		}
	})

	t.Run("output cap", func(t *testing.T) {
		t.Parallel()
		e := newExec(t, []string{"/usr/bin/head"})
		var logs dockerLogBuffer
		res := execRun(t, e, executor.Task{Command: "/usr/bin/head", Args: []string{"-c", "100000", "/dev/zero"}, MaxOutput: 1000, Logs: &logs})
		execWantExit(t, res, 0)
		if len(res.Stdout) != 1000 || !res.StdoutTruncated || res.StderrTruncated {
			t.Errorf("stdout %d bytes, truncated %v/%v", len(res.Stdout), res.StdoutTruncated, res.StderrTruncated)
		}
		if logs.Len() != 100000 {
			t.Errorf("logs got %d bytes, want all 100000", logs.Len())
		}
	})

	t.Run("environment", func(t *testing.T) {
		// Not parallel: it sets a variable in the test's environment.
		t.Setenv("COMPUTEMESH_TEST_LEAK", "node's")
		root := t.TempDir()
		e := newExec(t, []string{"/usr/bin/env"}, executor.WithExecWorkRoot(root))
		in, out := t.TempDir(), t.TempDir()
		res := execRun(t, e, executor.Task{Command: "/usr/bin/env", Env: map[string]string{
			"JOB_X": "forty two", executor.ExecInputsEnv: "/etc",
		}, InputsDir: in, OutputsDir: out})
		execWantExit(t, res, 0)
		lines := strings.Split(strings.TrimSuffix(string(res.Stdout), "\n"), "\n")
		slices.Sort(lines)
		if len(lines) != 6 {
			t.Fatalf("environment %q, want 6 variables", lines)
		}
		home := strings.TrimPrefix(lines[2], "HOME=")
		want := []string{
			executor.ExecInputsEnv + "=" + in, executor.ExecOutputsEnv + "=" + out, "HOME=" + home,
			"JOB_X=forty two", "PATH=" + executor.ExecPath, "TMPDIR=" + filepath.Join(home, "tmp"),
		}
		if !slices.Equal(lines, want) || filepath.Dir(home) != root {
			t.Errorf("environment\n%q\nwant\n%q\n(HOME under %s)", lines, want, root)
		}

		res = execRun(t, e, executor.Task{Command: "/usr/bin/env", Env: map[string]string{executor.ExecInputsEnv: "/etc"}})
		if strings.Contains(string(res.Stdout), executor.ExecInputsEnv) {
			t.Errorf("a task set %s without inputs: %q", executor.ExecInputsEnv, res.Stdout)
		}
	})

	t.Run("work directory", func(t *testing.T) {
		t.Parallel()
		root := t.TempDir()
		e := newExec(t, []string{"/bin/sh"}, executor.WithExecWorkRoot(root))
		res := execRun(t, e, sh(`pwd; echo "$HOME"; echo x > f; mkdir -p d/e; echo y > d/e/g; chmod 0 d/e d`))
		execWantExit(t, res, 0)
		lines := strings.Split(string(res.Stdout), "\n")
		if len(lines) < 2 || filepath.Dir(lines[0]) != root || lines[0] != lines[1] {
			t.Errorf("cwd and HOME %q, want one fresh directory under %s", lines, root)
		}
		left, err := os.ReadDir(root)
		if err != nil || len(left) != 0 {
			t.Errorf("work root after the run: %v, %v; want it empty", left, err)
		}
	})

	t.Run("inputs and outputs", func(t *testing.T) {
		t.Parallel()
		e := newExec(t, []string{"/bin/sh"})
		in, out := t.TempDir(), t.TempDir()
		if err := os.WriteFile(filepath.Join(in, "in.txt"), []byte("input data\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		task := sh(`cat "$COMPUTEMESH_INPUTS/in.txt"; echo written > "$COMPUTEMESH_OUTPUTS/out.txt"`)
		task.InputsDir, task.OutputsDir = in, out
		res := execRun(t, e, task)
		execWantExit(t, res, 0)
		if string(res.Stdout) != "input data\n" {
			t.Errorf("stdout %q", res.Stdout)
		}
		if got, err := os.ReadFile(filepath.Join(out, "out.txt")); err != nil || string(got) != "written\n" {
			t.Errorf("outputs/out.txt: %q, %v", got, err)
		}
	})

	t.Run("stdin", func(t *testing.T) {
		t.Parallel()
		e := newExec(t, []string{"/bin/cat", "/bin/sh"})
		in := make([]byte, 300<<10)
		rand.Read(in)
		res := execRun(t, e, executor.Task{Command: "/bin/cat", Stdin: in})
		execWantExit(t, res, 0)
		if !bytes.Equal(res.Stdout, in) {
			t.Errorf("stdout: %d bytes, not the %d bytes of stdin", len(res.Stdout), len(in))
		}
		// A command that does not read its stdin does not hold the run
		// (the run would block on the full pipe until the test's timeout).
		task := sh("exit 0")
		task.Stdin = make([]byte, 1<<20)
		execWantExit(t, execRun(t, e, task), 0)
		// No stdin reads EOF.
		execWantExit(t, execRun(t, e, executor.Task{Command: "/bin/cat"}), 0)
	})

	t.Run("limits", func(t *testing.T) {
		t.Parallel()
		e := newExec(t, []string{"/bin/sh"})
		task := sh("ulimit -v; ulimit -t; ulimit -c")
		task.MemoryBytes, task.CPUMillis, task.Timeout = 64<<20, 1500, 10*time.Second
		res := execRun(t, e, task)
		execWantExit(t, res, 0)
		// KiB of address space; CPU seconds: 1.5 cores × 10 s + 1; no core.
		if got := string(res.Stdout); got != "65536\n16\n0\n" {
			t.Errorf("limits %q, want address space 65536 KiB, CPU 16 s, core 0", got)
		}
	})

	t.Run("memory limit", func(t *testing.T) {
		t.Parallel()
		e := newExec(t, []string{"/bin/echo"})
		// 1 MiB of address space: not even the dynamic loader fits.
		res := execRun(t, e, executor.Task{Command: "/bin/echo", Args: []string{"hi"}, MemoryBytes: 1 << 20})
		if res.ExitCode == 0 || !res.MemoryExceeded || res.Reason == "" {
			t.Errorf("exit %d, memory %v, reason %q\nstderr %q", res.ExitCode, res.MemoryExceeded, res.Reason, res.Stderr)
		}
	})

	t.Run("cpu seconds", func(t *testing.T) {
		t.Parallel()
		e := newExec(t, []string{"/bin/sh"})
		res := execRun(t, e, sh(`i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done`))
		execWantExit(t, res, 0)
		if res.CPUSeconds < 0.05 || res.CPUSeconds > res.Duration.Seconds()+0.05 {
			t.Errorf("CPU seconds %.3f for a busy loop of %v", res.CPUSeconds, res.Duration)
		}
		t.Logf("CPU seconds %.3f, duration %v", res.CPUSeconds, res.Duration)
	})

	t.Run("cancel", func(t *testing.T) {
		t.Parallel()
		// As for the timeout: sleep ends at SIGTERM, before the kill a
		// minute's grace later.
		const grace = time.Minute
		e := newExec(t, []string{"/bin/sleep"}, executor.WithExecStopGrace(grace))
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(300*time.Millisecond, cancel)
		start := time.Now()
		res, err := e.Run(ctx, executor.Task{Command: "/bin/sleep", Args: []string{"1000"}})
		if !errors.Is(err, context.Canceled) || res.Reason != "cancelled" || res.ExitCode != executor.ExitCodeAbnormal || res.TimedOut {
			t.Fatalf("Run: %v, reason %q, exit %d, timed out %v", err, res.Reason, res.ExitCode, res.TimedOut)
		}
		if elapsed := time.Since(start); elapsed >= grace {
			t.Errorf("took %v: it waited for the kill after the %v grace", elapsed, grace)
		}
	})

	t.Run("close stops runs", func(t *testing.T) {
		t.Parallel()
		e, err := executor.NewExec([]string{"/bin/sleep"})
		if err != nil {
			t.Fatal(err)
		}
		time.AfterFunc(300*time.Millisecond, func() { e.Close() })
		res, err := e.Run(context.Background(), executor.Task{Command: "/bin/sleep", Args: []string{"100"}})
		if !errors.Is(err, executor.ErrClosed) || res.Reason != "executor closed" {
			t.Fatalf("Run during Close: %v, reason %q", err, res.Reason)
		}
		if _, err := e.Run(context.Background(), executor.Task{Command: "/bin/sleep", Args: []string{"0"}}); !errors.Is(err, executor.ErrClosed) {
			t.Errorf("Run after Close: %v", err)
		}
		if err := e.Available(context.Background()); !errors.Is(err, executor.ErrClosed) {
			t.Errorf("Available after Close: %v", err)
		}
		if err := e.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})
}
