package executor_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/computemesh/computemesh/examples/hello"
	"github.com/computemesh/computemesh/executor"
)

// BenchmarkWASMGrowToLimit runs, warm, under a 64 MiB limit: a guest that
// grows its memory one 64 KiB page at a time to the limit (1,023
// memory.grow), writing to each new page; the test guest (Go) allocating and
// filling 40 MiB; and, for the cost of a tiny job, the hello module. Besides
// ns/op it reports the process's CPU time (user and system) per run.
func BenchmarkWASMGrowToLimit(b *testing.B) {
	const limit = 64 << 20
	for _, bc := range []struct {
		name string
		task executor.Task
	}{
		{"page-by-page", executor.Task{Name: "grow.wasm", Module: growModule(limit/executor.PageSize, false)}},
		{"go-alloc-40MiB", guestTask(b, "alloc", "40")},
		{"hello", executor.Task{Name: "hello.wasm", Module: hello.Module(), ModuleKey: "hello"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			w := newWASM(b)
			task := bc.task
			task.MemoryBytes, task.Timeout = limit, time.Minute
			run := func() {
				r, err := w.Run(context.Background(), task)
				if err != nil || r.ExitCode != 0 {
					b.Fatalf("Run: %v, exit %d, %q, stderr %.200q", err, r.ExitCode, r.Reason, r.Stderr)
				}
			}
			run() // compile outside the measure
			cpu0 := processCPU()
			for b.Loop() {
				run()
			}
			b.ReportMetric(float64(processCPU()-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
		})
	}
}

// processCPU returns the user and system CPU time of the process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkWASMConcurrentTinyRSS runs 32 tiny guests at once (the Go test
// guest sleeping 3 s) under a 64 MiB limit each and reports how much the
// process's resident (RSS-MiB) and virtual (VM-MiB) memory grew while they
// all ran, and how much resident memory remained once they had ended
// (RSS-after-MiB).
func BenchmarkWASMConcurrentTinyRSS(b *testing.B) {
	const jobs = 32
	w := newWASM(b)
	task := guestTask(b, "sleep", "3s")
	task.MemoryBytes, task.Timeout = 64<<20, time.Minute
	if _, err := w.Run(b.Context(), task); err != nil { // compile outside the measure
		b.Fatal(err)
	}
	var rss, vm, after float64
	for b.Loop() {
		runtime.GC()
		debug.FreeOSMemory()
		rss0, vm0 := procMemory(b)
		var wg sync.WaitGroup
		for range jobs {
			wg.Go(func() {
				if r, err := w.Run(b.Context(), task); err != nil || r.ExitCode != 0 {
					b.Errorf("Run: %v, exit %d, %q", err, r.ExitCode, r.Reason)
				}
			})
		}
		time.Sleep(2 * time.Second) // all started, none ended
		rss1, vm1 := procMemory(b)
		wg.Wait()
		runtime.GC()
		rss2, _ := procMemory(b)
		rss, vm, after = rss+rss1-rss0, vm+vm1-vm0, after+rss2-rss0
	}
	n := float64(b.N)
	b.ReportMetric(rss/n, "RSS-MiB")
	b.ReportMetric(vm/n, "VM-MiB")
	b.ReportMetric(after/n, "RSS-after-MiB")
}

// procMemory returns the process's VmRSS and VmSize in MiB.
func procMemory(tb testing.TB) (rss, vm float64) {
	tb.Helper()
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		tb.Skipf("no /proc: %v", err)
	}
	for line := range strings.Lines(string(status)) {
		var kib float64
		if _, err := fmt.Sscanf(line, "VmRSS: %f kB", &kib); err == nil {
			rss = kib / 1024
		} else if _, err := fmt.Sscanf(line, "VmSize: %f kB", &kib); err == nil {
			vm = kib / 1024
		}
	}
	return rss, vm
}
