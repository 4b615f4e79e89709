package confine

import (
	"errors"
	"runtime"
	"unsafe"

	"syscall"
)

// The seccomp filter refuses what Landlock of this kernel does not control:
//   - socket(AF_UNIX, …) fails with EACCES: connecting to a Unix socket by
//     path (the Docker daemon's, a session bus, systemd's) is not a file
//     access Landlock checks, and such a socket reaches the host from any
//     network namespace. socketpair(2) still works;
//   - io_uring_setup(2) fails with ENOSYS: io_uring can open sockets
//     without socket(2);
//   - system calls of another architecture (x32, 32-bit) fail with ENOSYS,
//     so the checks above cannot be sidestepped.

// auditArch is the AUDIT_ARCH value of this program's architecture, and
// whether the filter supports it.
func auditArch() (uint32, bool) {
	switch runtime.GOARCH {
	case "amd64":
		return auditArchX86_64, true
	case "arm64":
		return auditArchAArch64, true
	}
	return 0, false
}

// SeccompSupported reports whether the filter exists for this architecture.
func SeccompSupported() error {
	if _, ok := auditArch(); !ok {
		return errors.New("seccomp: no filter for " + runtime.GOARCH)
	}
	return nil
}

func stmt(code uint16, k uint32) syscall.SockFilter { return syscall.SockFilter{Code: code, K: k} }

func jump(code uint16, k uint32, jt, jf uint8) syscall.SockFilter {
	return syscall.SockFilter{Code: code, Jt: jt, Jf: jf, K: k}
}

// filter returns the BPF program.
func filter(arch uint32) []syscall.SockFilter {
	const (
		ld    = syscall.BPF_LD | syscall.BPF_W | syscall.BPF_ABS
		jeq   = syscall.BPF_JMP | syscall.BPF_JEQ | syscall.BPF_K
		jge   = syscall.BPF_JMP | syscall.BPF_JGE | syscall.BPF_K
		ret   = syscall.BPF_RET | syscall.BPF_K
		allow = seccompRetAllow
	)
	enosys := uint32(seccompRetErrno | uint32(syscall.ENOSYS))
	eacces := uint32(seccompRetErrno | uint32(syscall.EACCES))
	prog := []syscall.SockFilter{
		stmt(ld, seccompDataArch),
		jump(jeq, arch, 1, 0),
		stmt(ret, enosys), // another architecture
		stmt(ld, seccompDataNr),
	}
	if arch == auditArchX86_64 {
		prog = append(prog,
			jump(jge, x32SyscallBit, 0, 1),
			stmt(ret, enosys)) // the x32 ABI
	}
	prog = append(prog,
		jump(jeq, sysIOURingSetup, 0, 1),
		stmt(ret, enosys),
		jump(jeq, syscall.SYS_SOCKET, 0, 3),
		stmt(ld, seccompDataArg0Lo),
		jump(jeq, syscall.AF_UNIX, 0, 1),
		stmt(ret, eacces),
		stmt(ret, allow))
	return prog
}

// installSeccomp installs the filter on the calling thread; no-new-privileges
// must be set.
func installSeccomp() error {
	arch, ok := auditArch()
	if !ok {
		return SeccompSupported()
	}
	f := filter(arch)
	prog := syscall.SockFprog{Len: uint16(len(f)), Filter: &f[0]}
	if errno := prctl(prSetSeccomp, seccompModeFilter, uintptr(unsafe.Pointer(&prog)), 0, 0); errno != 0 {
		return errors.New("seccomp: " + errno.Error())
	}
	runtime.KeepAlive(f)
	return nil
}
