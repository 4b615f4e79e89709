package executor

import (
	"errors"
	"math"
	"os"
	"syscall"
	"unsafe"

	"github.com/computemesh/computemesh/executor/internal/confine"
)

// execSupported reports whether the exec executor works on this system.
const execSupported = true

// rlimInfinity is RLIM_INFINITY as the kernel reports it.
const rlimInfinity = ^uint64(0)

// sysProcAttr puts a command in a process group of its own (so that it and
// its children are stopped together) and kills it if the node dies first.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// waitExited returns once process pid has exited, without reaping it
// (waitid with WNOWAIT): until it is reaped its process ID, and so its
// process group ID, cannot be reused.
func waitExited(pid int) {
	const pPID = 1     // P_PID
	var info [128]byte // siginfo_t
	for {
		_, _, errno := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid),
			uintptr(unsafe.Pointer(&info[0])), syscall.WEXITED|syscall.WNOWAIT, 0, 0)
		if errno != syscall.EINTR {
			return
		}
	}
}

// signalGroup sends SIGTERM, or SIGKILL when kill is set, to the process
// group led by pid. A group already gone is not an error.
func signalGroup(pid int, kill bool) {
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	if err := syscall.Kill(-pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		_ = syscall.Kill(pid, sig) // not a group leader after all: the process alone
	}
}

// cpuSeconds is the user+system time of an exited process and of the
// children it waited for.
// peakRSS is the largest resident set of the process or of a child it
// waited for (Linux reports maxrss in KiB).
func peakRSS(ps *os.ProcessState) uint64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok && ru.Maxrss > 0 {
		return uint64(ru.Maxrss) * 1024
	}
	return 0
}

func cpuSeconds(ps *os.ProcessState) float64 {
	return (ps.UserTime() + ps.SystemTime()).Seconds()
}

// signaled reports the signal that killed a process, if one did, and whether
// it is one the CPU-time limit sends.
func signaled(ps *os.ProcessState) (sig string, cpuKill, ok bool) {
	ws, isWS := ps.Sys().(syscall.WaitStatus)
	if !isWS || !ws.Signaled() {
		return "", false, false
	}
	s := ws.Signal()
	return s.String(), s == syscall.SIGXCPU || s == syscall.SIGKILL, true
}

// limits are the resource limits for t — address space, CPU time (cores ×
// timeout, rounded up, plus a second), core size and, when its outputs are
// bounded, file size (fileSizeLimit) — each no higher than this process's
// own hard limit, which could not be raised — and the CPU time limit in
// seconds.
func limits(t *Task) (lims []confine.Rlimit, cpuLimit uint64) {
	cpu := math.Ceil(float64(t.CPUMillis) / 1000 * t.Timeout.Seconds())
	cpuLimit = capRlimit(syscall.RLIMIT_CPU, uint64(min(cpu, math.MaxInt32))+1)
	as := capRlimit(syscall.RLIMIT_AS, t.MemoryBytes)
	lims = []confine.Rlimit{
		{Resource: syscall.RLIMIT_AS, Value: as},
		{Resource: syscall.RLIMIT_CPU, Value: cpuLimit},
		{Resource: syscall.RLIMIT_CORE, Value: 0},
	}
	if t.OutputsDir != "" && t.DiskBytes > 0 {
		fsize := capRlimit(syscall.RLIMIT_FSIZE, fileSizeLimit(t.DiskBytes))
		lims = append(lims, confine.Rlimit{Resource: syscall.RLIMIT_FSIZE, Value: fsize})
	}
	return lims, cpuLimit
}

// capRlimit returns v, or this process's hard limit of resource when lower.
func capRlimit(resource int, v uint64) uint64 {
	var cur syscall.Rlimit
	if err := syscall.Getrlimit(resource, &cur); err == nil && cur.Max != rlimInfinity && v > cur.Max {
		return cur.Max
	}
	return v
}

// killPid sends SIGKILL to process pid, if this process may signal it.
func killPid(pid int) { _ = syscall.Kill(pid, syscall.SIGKILL) }
