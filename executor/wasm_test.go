package executor_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/computemesh/computemesh/examples/hello"
	"github.com/computemesh/computemesh/executor"
)

// sharedCacheDir is a compilation cache shared by the tests' executors, so
// that each does not compile the guest again (slow under -race). Set by
// TestMain.
var sharedCacheDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "executor-cache-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sharedCacheDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// guestModule builds testdata/guest for wasip1, once per test binary.
var guestModule = sync.OnceValues(func() ([]byte, error) {
	dir, err := os.MkdirTemp("", "executor-guest-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "guest.wasm")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, ".")
	cmd.Dir = filepath.Join("testdata", "guest")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build guest: %w\n%s", err, msg)
	}
	return os.ReadFile(out)
})

// guest returns the test module, built from testdata/guest.
func guest(tb testing.TB) []byte {
	tb.Helper()
	b, err := guestModule()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// newWASM returns an executor, using the shared compilation cache unless
// opts say otherwise, closed at the end of the test.
func newWASM(tb testing.TB, opts ...executor.WASMOption) *executor.WASM {
	tb.Helper()
	opts = append([]executor.WASMOption{executor.WithCacheDir(sharedCacheDir)}, opts...)
	w, err := executor.NewWASM(opts...)
	if err != nil {
		tb.Fatalf("NewWASM: %v", err)
	}
	tb.Cleanup(func() {
		if err := w.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return w
}

// guestTask returns a task running the guest with args.
func guestTask(tb testing.TB, args ...string) executor.Task {
	return executor.Task{Name: "guest.wasm", Module: guest(tb), ModuleKey: "guest", Args: args}
}

func TestRun(t *testing.T) {
	w := newWASM(t)
	const mib = 1 << 20
	tests := []struct {
		name   string
		task   executor.Task
		modify func(*executor.Task)
		check  func(t *testing.T, r executor.Result)
	}{
		{name: "hello", task: guestTask(t, "hello"), check: wantOut("hello\n")},
		{name: "argv0 is the name", task: guestTask(t, "args", "a b", "c"), check: wantOut("guest.wasm|args|a b|c")},
		{name: "default name", task: guestTask(t, "args"), modify: func(task *executor.Task) { task.Name = "" },
			check: wantOut("module.wasm|args")},
		{name: "env", task: guestTask(t, "env"), modify: func(task *executor.Task) {
			task.Env = map[string]string{"X": "42", "Y": "y"}
		}, check: wantOut("42")},
		{name: "env sorted", task: guestTask(t, "envlist"), modify: func(task *executor.Task) {
			task.Env = map[string]string{"C": "3", "A": "1", "B": "2"}
		}, check: wantOut("A=1\nB=2\nC=3")},
		{name: "stdin", task: guestTask(t, "stdin"), modify: func(task *executor.Task) {
			task.Stdin = []byte("some input\nover lines")
		}, check: wantOut("some input\nover lines")},
		{name: "exit code", task: guestTask(t, "exit", "3"), check: wantExit(3)},
		{name: "guest error", task: guestTask(t, "nonsense"), check: func(t *testing.T, r executor.Result) {
			wantExit(100)(t, r)
			if !strings.Contains(string(r.Stderr), "unknown command nonsense") {
				t.Errorf("stderr = %q", r.Stderr)
			}
		}},
		{name: "timeout in a busy loop", task: guestTask(t, "loop"), modify: func(task *executor.Task) {
			task.Timeout = 300 * time.Millisecond
		}, check: wantTimeout(300 * time.Millisecond)},
		{name: "timeout in a sleep", task: guestTask(t, "sleep", "1h"), modify: func(task *executor.Task) {
			task.Timeout = 300 * time.Millisecond
		}, check: wantTimeout(300 * time.Millisecond)},
		{name: "real sleep", task: guestTask(t, "sleep", "300ms"), check: func(t *testing.T, r executor.Result) {
			wantExit(0)(t, r)
			if r.Duration < 300*time.Millisecond {
				t.Errorf("Duration = %v, want >= 300ms", r.Duration)
			}
		}},
		{name: "deterministic sleep is virtual", task: guestTask(t, "sleep", "1m"), modify: func(task *executor.Task) {
			task.Deterministic = true
			task.Timeout = 2 * time.Minute
		}, check: func(t *testing.T, r executor.Result) {
			// The fixed clock advances 1ms per reading and sleeps return
			// at once, so a minute passes in about 60,000 readings: the run
			// ends before a real minute has (however busy the machine).
			wantExit(0)(t, r)
			if r.Duration >= time.Minute {
				t.Errorf("Duration = %v, want < 1m", r.Duration)
			}
		}},
		{name: "alloc under the memory limit", task: guestTask(t, "alloc", "8"), modify: func(task *executor.Task) {
			task.MemoryBytes = 64 * mib
		}, check: func(t *testing.T, r executor.Result) {
			wantOut("allocated 8 MiB\n")(t, r)
			if r.MemoryExceeded {
				t.Error("MemoryExceeded = true")
			}
			if r.PeakMemoryBytes < 8*mib || r.PeakMemoryBytes > 64*mib {
				t.Errorf("PeakMemoryBytes = %d, want the 8 MiB it held and no more than the 64 MiB limit", r.PeakMemoryBytes)
			}
		}},
		{name: "alloc over the memory limit", task: guestTask(t, "alloc", "200"), modify: func(task *executor.Task) {
			task.MemoryBytes = 64 * mib
		}, check: func(t *testing.T, r executor.Result) {
			if r.ExitCode == 0 || !r.MemoryExceeded {
				t.Errorf("ExitCode = %d, MemoryExceeded = %v, want non-zero and true (stderr %.200q)",
					r.ExitCode, r.MemoryExceeded, r.Stderr)
			}
		}},
		{name: "output capped", task: guestTask(t, "spam", "100000"), modify: func(task *executor.Task) {
			task.MaxOutput = 1000
		}, check: func(t *testing.T, r executor.Result) {
			wantExit(0)(t, r)
			if len(r.Stdout) != 1000 || !r.StdoutTruncated || r.StderrTruncated {
				t.Errorf("len(Stdout) = %d, StdoutTruncated = %v, StderrTruncated = %v; want 1000, true, false",
					len(r.Stdout), r.StdoutTruncated, r.StderrTruncated)
			}
		}},
		{name: "output at the cap", task: guestTask(t, "spam", "1000"), modify: func(task *executor.Task) {
			task.MaxOutput = 1000
		}, check: func(t *testing.T, r executor.Result) {
			if len(r.Stdout) != 1000 || r.StdoutTruncated {
				t.Errorf("len(Stdout) = %d, StdoutTruncated = %v; want 1000, false", len(r.Stdout), r.StdoutTruncated)
			}
		}},
		{name: "real clock", task: guestTask(t, "time"), check: func(t *testing.T, r executor.Result) {
			if year, err := strconv.Atoi(string(r.Stdout)); err != nil || year < 2026 {
				t.Errorf("year = %q, want >= 2026", r.Stdout)
			}
		}},
		{name: "deterministic clock", task: guestTask(t, "time"), modify: func(task *executor.Task) {
			task.Deterministic = true
		}, check: wantOut("2022")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			task := tt.task
			if tt.modify != nil {
				tt.modify(&task)
			}
			r, err := w.Run(t.Context(), task)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			tt.check(t, r)
		})
	}
}

func wantExit(code int) func(*testing.T, executor.Result) {
	return func(t *testing.T, r executor.Result) {
		t.Helper()
		if r.ExitCode != code || r.TimedOut || r.MemoryExceeded {
			t.Errorf("ExitCode = %d, TimedOut = %v, MemoryExceeded = %v, Reason = %q; want exit %d (stderr %.300q)",
				r.ExitCode, r.TimedOut, r.MemoryExceeded, r.Reason, code, r.Stderr)
		}
	}
}

func wantOut(stdout string) func(*testing.T, executor.Result) {
	return func(t *testing.T, r executor.Result) {
		t.Helper()
		wantExit(0)(t, r)
		if string(r.Stdout) != stdout {
			t.Errorf("Stdout = %q, want %q", r.Stdout, stdout)
		}
	}
}

func wantTimeout(timeout time.Duration) func(*testing.T, executor.Result) {
	return func(t *testing.T, r executor.Result) {
		t.Helper()
		if !r.TimedOut || r.ExitCode != executor.ExitCodeAbnormal {
			t.Errorf("TimedOut = %v, ExitCode = %d; want true, %d", r.TimedOut, r.ExitCode, executor.ExitCodeAbnormal)
		}
		// The timeout's clock starts before the run's own (set-up comes
		// first), so Duration may fall a little short of it. No upper bound:
		// TimedOut says the timeout ended it, and load only makes it later.
		if r.Duration < timeout/2 {
			t.Errorf("Duration = %v, want at least %v", r.Duration, timeout/2)
		}
	}
}

func TestRandomness(t *testing.T) {
	w := newWASM(t)
	for _, deterministic := range []bool{false, true} {
		t.Run(fmt.Sprintf("deterministic=%v", deterministic), func(t *testing.T) {
			task := guestTask(t, "rand")
			task.Deterministic = deterministic
			var outs [2]string
			for i := range outs {
				r, err := w.Run(t.Context(), task)
				if err != nil || r.ExitCode != 0 || len(r.Stdout) != 32 {
					t.Fatalf("Run = %+v, %v", r, err)
				}
				outs[i] = string(r.Stdout)
			}
			if same := outs[0] == outs[1]; same != deterministic {
				t.Errorf("two runs gave %q and %q: same = %v, want %v", outs[0], outs[1], same, deterministic)
			}
		})
	}
}

func TestParallel(t *testing.T) {
	w := newWASM(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			task := guestTask(t, "args", strconv.Itoa(i))
			task.MemoryBytes = uint64(64+64*(i%2)) << 20 // two memory-limit classes
			r, err := w.Run(context.Background(), task)
			if want := "guest.wasm|args|" + strconv.Itoa(i); err != nil || r.ExitCode != 0 || string(r.Stdout) != want {
				t.Errorf("run %d: Stdout = %q, ExitCode = %d, err = %v; want %q", i, r.Stdout, r.ExitCode, err, want)
			}
		})
	}
	wg.Wait()
}

func TestCache(t *testing.T) {
	w := newWASM(t, executor.WithMaxCachedModules(1))
	run := func(key string, memory uint64) bool {
		t.Helper()
		task := guestTask(t, "hello")
		task.ModuleKey, task.MemoryBytes = key, memory
		r, err := w.Run(t.Context(), task)
		if err != nil || r.ExitCode != 0 {
			t.Fatalf("Run = %+v, %v", r, err)
		}
		return r.Compiled
	}
	steps := []struct {
		key          string
		memory       uint64
		wantCompiled bool
	}{
		{"a", 0, true},
		{"a", 0, false},
		{"a", 64 << 20, true}, // another memory-limit class
		{"a", 64 << 20, false},
		{"b", 0, true}, // evicts a: one module per class
		{"a", 0, true},
	}
	for i, s := range steps {
		if got := run(s.key, s.memory); got != s.wantCompiled {
			t.Errorf("step %d (key %s, memory %d): Compiled = %v, want %v", i, s.key, s.memory, got, s.wantCompiled)
		}
	}
}

func TestCacheDir(t *testing.T) {
	dir := t.TempDir()
	module := wasmBinary(typeSection, funcSection, exportFunc("_start"), emptyBody)
	for i := range 2 {
		w, err := executor.NewWASM(executor.WithCacheDir(dir))
		if err != nil {
			t.Fatal(err)
		}
		r, err := w.Run(t.Context(), executor.Task{Module: module})
		if err != nil || r.ExitCode != 0 {
			t.Errorf("run %d: %+v, %v", i, r, err)
		}
		if err := w.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
	files := 0
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files++
		}
		return err
	})
	if err != nil || files == 0 {
		t.Errorf("cache dir holds %d files (%v), want some", files, err)
	}
}

func TestClose(t *testing.T) {
	w, err := executor.NewWASM(executor.WithCacheDir(sharedCacheDir))
	if err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		task := guestTask(t, "loop")
		task.Timeout = time.Minute
		_, err := w.Run(context.Background(), guestTask(t, "hello")) // compile first
		close(ready)
		if err == nil {
			_, err = w.Run(context.Background(), task)
		}
		done <- err
	}()
	<-ready
	time.Sleep(100 * time.Millisecond) // let the loop start
	if err := w.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, executor.ErrClosed) {
			t.Errorf("Run in flight = %v, want ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run in flight still running 10s after Close")
	}
	if _, err := w.Run(t.Context(), guestTask(t, "hello")); !errors.Is(err, executor.ErrClosed) {
		t.Errorf("Run after Close = %v, want ErrClosed", err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestCancel(t *testing.T) {
	w := newWASM(t)
	// The first run is cancelled while it compiles or sleeps, the second
	// (compiled) while it sleeps: both return at once.
	for i := range 2 {
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(200*time.Millisecond, cancel)
		start := time.Now()
		_, err := w.Run(ctx, guestTask(t, "sleep", "1h"))
		if !errors.Is(err, context.Canceled) {
			t.Errorf("run %d = %v, want context.Canceled", i, err)
		}
		if d := time.Since(start); d >= time.Hour { // returned before the guest's sleep ended
			t.Errorf("run %d returned after %v", i, d)
		}
	}
}

func BenchmarkHelloWarm(b *testing.B) {
	w := newWASM(b)
	task := executor.Task{Name: "hello.wasm", Module: hello.Module(), ModuleKey: "hello"}
	if _, err := w.Run(b.Context(), task); err != nil { // compile outside the loop
		b.Fatal(err)
	}
	for b.Loop() {
		r, err := w.Run(b.Context(), task)
		if err != nil || !bytes.HasPrefix(r.Stdout, []byte("hello from computemesh")) {
			b.Fatalf("Run = %+v, %v", r, err)
		}
	}
}

func TestRuntimeEviction(t *testing.T) {
	w := newWASM(t, executor.WithMaxRuntimes(1))
	module := wasmBinary(typeSection, funcSection, exportFunc("_start"), emptyBody)
	for i, s := range []struct {
		memory       uint64
		wantCompiled bool
	}{
		{1 << 20, true},
		{1 << 20, false},
		{2 << 20, true}, // evicts the 1 MiB class
		{1 << 20, true},
		{1<<20 - 1, false}, // rounded up to the same 16 pages
	} {
		r, err := w.Run(t.Context(), executor.Task{Module: module, MemoryBytes: s.memory})
		if err != nil || r.ExitCode != 0 || r.Compiled != s.wantCompiled {
			t.Errorf("step %d (memory %d): Compiled = %v, exit %d, err %v; want Compiled = %v",
				i, s.memory, r.Compiled, r.ExitCode, err, s.wantCompiled)
		}
	}
}
