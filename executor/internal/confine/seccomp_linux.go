package confine

import (
	"errors"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
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
		return unix.AUDIT_ARCH_X86_64, true
	case "arm64":
		return unix.AUDIT_ARCH_AARCH64, true
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

// x32SyscallBit marks the x32 ABI's system calls on amd64.
const x32SyscallBit = 0x40000000

// Offsets in struct seccomp_data.
const (
	offNr   = 0
	offArch = 4
	offArg0 = 16 // low 32 bits on little-endian machines (amd64, arm64)
)

func stmt(code uint16, k uint32) unix.SockFilter { return unix.SockFilter{Code: code, K: k} }

func jump(code uint16, k uint32, jt, jf uint8) unix.SockFilter {
	return unix.SockFilter{Code: code, Jt: jt, Jf: jf, K: k}
}

// filter returns the BPF program.
func filter(arch uint32) []unix.SockFilter {
	const (
		ld    = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		jge   = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
		ret   = unix.BPF_RET | unix.BPF_K
		allow = unix.SECCOMP_RET_ALLOW
	)
	enosys := uint32(unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS))
	eacces := uint32(unix.SECCOMP_RET_ERRNO | uint32(unix.EACCES))
	prog := []unix.SockFilter{
		stmt(ld, offArch),
		jump(jeq, arch, 1, 0),
		stmt(ret, enosys), // another architecture
		stmt(ld, offNr),
	}
	if arch == unix.AUDIT_ARCH_X86_64 {
		prog = append(prog,
			jump(jge, x32SyscallBit, 0, 1),
			stmt(ret, enosys)) // the x32 ABI
	}
	prog = append(prog,
		jump(jeq, uint32(unix.SYS_IO_URING_SETUP), 0, 1),
		stmt(ret, enosys),
		jump(jeq, uint32(unix.SYS_SOCKET), 0, 3),
		stmt(ld, offArg0),
		jump(jeq, unix.AF_UNIX, 0, 1),
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
	prog := unix.SockFprog{Len: uint16(len(f)), Filter: &f[0]}
	if err := unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&prog)), 0, 0); err != nil {
		return errors.New("seccomp: " + err.Error())
	}
	runtime.KeepAlive(f)
	return nil
}
