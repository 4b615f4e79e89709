package main

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
)

// cpuProfileFile is where start --cpu-profile writes, under the data dir.
const cpuProfileFile = "cpu.pprof"

// startCPUProfile profiles the process's CPU until the returned func is
// called, into dataDir/cpuProfileFile.
func startCPUProfile(dataDir string) (end func(), err error) {
	if dataDir == "" {
		return nil, usageErr("--cpu-profile: needs --data-dir (the profile goes there)")
	}
	path := filepath.Join(dataDir, cpuProfileFile)
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpu-profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpu-profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "--cpu-profile: %v\n", err)
		}
	}, nil
}

// heapProfilePrefix names the heap profiles start --heap-profile writes
// under the data dir: heap-1.pprof, heap-2.pprof, … one per SIGUSR1.
const heapProfilePrefix = "heap-"

// startHeapProfiles writes a heap profile (after a garbage collection, so
// that it shows what is live) to dataDir/heap-N.pprof each time the process
// gets SIGUSR1, until the returned func is called.
func startHeapProfiles(dataDir string) (end func(), err error) {
	if dataDir == "" {
		return nil, usageErr("--heap-profile: needs --data-dir (the profiles go there)")
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR1)
	done := make(chan struct{})
	go func() {
		for n := 1; ; n++ {
			select {
			case <-done:
				return
			case <-sig:
			}
			path := filepath.Join(dataDir, fmt.Sprintf("%s%d.pprof", heapProfilePrefix, n))
			if err := writeHeapProfile(path); err != nil {
				fmt.Fprintf(os.Stderr, "--heap-profile: %v\n", err)
			}
		}
	}()
	return func() { signal.Stop(sig); close(done) }, nil
}

func writeHeapProfile(path string) error {
	runtime.GC()
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return fmt.Errorf("heap profile %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("heap profile %s: %w", path, err)
	}
	// The same as text, with the runtime's memory statistics at its end
	// (heap in use, idle, released; stacks; what the runtime took).
	txt := strings.TrimSuffix(path, ".pprof") + ".txt"
	t, err := os.Create(txt)
	if err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	if err := pprof.Lookup("heap").WriteTo(t, 1); err != nil {
		t.Close()
		return fmt.Errorf("heap profile %s: %w", txt, err)
	}
	if err := t.Close(); err != nil {
		return fmt.Errorf("heap profile %s: %w", txt, err)
	}
	return nil
}
