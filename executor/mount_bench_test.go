package executor_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/computemesh/computemesh/examples/hello"
	"github.com/computemesh/computemesh/executor"
)

// BenchmarkHelloWarmMounted is BenchmarkHelloWarm with /inputs and
// /outputs mounted: the cost of the mounts.
func BenchmarkHelloWarmMounted(b *testing.B) {
	w := newWASM(b)
	task := executor.Task{Name: "hello.wasm", Module: hello.Module(), ModuleKey: "hello",
		InputsDir: b.TempDir(), OutputsDir: b.TempDir(), DiskBytes: 1 << 20, MaxFiles: 16}
	if _, err := w.Run(b.Context(), task); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if r, err := w.Run(b.Context(), task); err != nil || r.ExitCode != 0 {
			b.Fatalf("run: %v %+v", err, r)
		}
	}
}

// BenchmarkUpperWarm runs a guest that reads an input and writes an output.
func BenchmarkUpperWarm(b *testing.B) {
	w := newWASM(b)
	in, out := b.TempDir(), b.TempDir()
	if err := os.WriteFile(filepath.Join(in, "in.txt"), []byte("shout"), 0o644); err != nil {
		b.Fatal(err)
	}
	task := guestTask(b, "upper")
	task.InputsDir, task.OutputsDir, task.Timeout, task.DiskBytes, task.MaxFiles = in, out, time.Minute, 1<<20, 16
	if _, err := w.Run(b.Context(), task); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if r, err := w.Run(b.Context(), task); err != nil || r.ExitCode != 0 {
			b.Fatalf("run: %v %+v", err, r)
		}
	}
}
