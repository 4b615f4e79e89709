package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
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
