//go:build !linux

package executor

import (
	"os"
	"syscall"
)

// execSupported reports whether the exec executor works on this system:
// NewExec fails elsewhere than on Linux, so nothing below is ever called.
const execSupported = false

func sysProcAttr() *syscall.SysProcAttr                        { return nil }
func waitExited(int)                                           {}
func signalGroup(int, bool)                                    {}
func cpuSeconds(*os.ProcessState) float64                      { return 0 }
func peakRSS(*os.ProcessState) uint64                          { return 0 }
func signaled(*os.ProcessState) (sig string, cpuKill, ok bool) { return "", false, false }
func limits(*Task) (args []string, cpuLimit uint64)            { return nil, 0 }
