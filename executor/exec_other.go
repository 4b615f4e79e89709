//go:build !linux

package executor

import (
	"errors"
	"os"
	"os/exec"
	"syscall"

	"github.com/computemesh/computemesh/executor/internal/confine"
)

// execSupported reports whether the exec executor works on this system:
// NewExec fails elsewhere than on Linux, so nothing below is ever called.
const execSupported = false

func sysProcAttr() *syscall.SysProcAttr                        { return nil }
func waitExited(int)                                           {}
func killPid(int)                                              {}
func signalGroup(int, bool)                                    {}
func cpuSeconds(*os.ProcessState) float64                      { return 0 }
func peakRSS(*os.ProcessState) uint64                          { return 0 }
func signaled(*os.ProcessState) (sig string, cpuKill, ok bool) { return "", false, false }
func limits(*Task) (lims []confine.Rlimit, cpuLimit uint64)    { return nil, 0 }

type confiner struct {
	abi    int
	userns bool
}

func newConfiner() (*confiner, error) { return nil, errors.New("confinement needs Linux") }

type helperStatus struct{}

func (*helperStatus) started()     {}
func (*helperStatus) wait() string { return "" }
func (*helperStatus) close()       {}

func (e *Exec) command(*Task, string, []confine.Rlimit) (*exec.Cmd, *helperStatus, error) {
	return nil, nil, errors.New("exec: only supported on Linux")
}
