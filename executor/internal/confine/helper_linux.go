package confine

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// init turns a process started as the helper into it; it never returns
// there. Any other process goes on as usual.
func init() {
	if len(os.Args) > 0 && os.Args[0] == HelperName {
		os.Exit(helperMain(os.Args))
	}
}

// Exit statuses of a helper that failed before the command ran.
const (
	exitSetup   = 125 // confinement could not be applied
	exitNoExec  = 127 // the command could not be executed
	exitNoSpace = 126 // the command did not fit in its address-space limit
)

// helperMain confines this process and executes the command; it returns
// only on failure, with the exit status.
func helperMain(argv []string) int {
	// Everything below applies to this thread, the one that executes the
	// command (Landlock, seccomp, no-new-privileges and capabilities are
	// per thread; execve gives the whole new program the caller's).
	runtime.LockOSThread()
	debug.SetGCPercent(-1)
	status := os.NewFile(StatusFD, "status")
	_, _ = unix.FcntlInt(StatusFD, unix.F_SETFD, unix.FD_CLOEXEC)
	fail := func(code int, format string, a ...any) int {
		msg := fmt.Sprintf(format, a...)
		if _, err := status.WriteString(msg); err != nil {
			fmt.Fprintln(os.Stderr, HelperName+": "+msg) // started by hand
		}
		return code
	}
	s, err := parseArgv(argv)
	if err != nil {
		return fail(exitSetup, "helper: %v", err)
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fail(exitSetup, "no_new_privs: %v", err)
	}
	if s.DropCaps {
		if err := dropCaps(); err != nil {
			return fail(exitSetup, "dropping capabilities: %v", err)
		}
	}
	var as *unix.Rlimit
	for _, l := range s.Limits {
		lim := unix.Rlimit{Cur: l.Value, Max: l.Value}
		if l.Resource == unix.RLIMIT_AS {
			as = &lim // last: the helper itself may still need memory
			continue
		}
		if err := unix.Setrlimit(l.Resource, &lim); err != nil {
			return fail(exitSetup, "setrlimit %d: %v", l.Resource, err)
		}
	}
	if s.Landlock {
		if err := restrictSelf(RulesetFD); err != nil {
			return fail(exitSetup, "%v", err)
		}
		_ = unix.Close(RulesetFD)
	}
	if s.Seccomp {
		if err := installSeccomp(); err != nil {
			return fail(exitSetup, "%v", err)
		}
	}
	if s.Probe {
		return 0
	}
	path, err := unix.BytePtrFromString(s.Path)
	if err != nil {
		return fail(exitSetup, "path: %v", err)
	}
	args, err := syscall.SlicePtrFromStrings(s.Args)
	if err != nil {
		return fail(exitSetup, "args: %v", err)
	}
	env, err := syscall.SlicePtrFromStrings(s.Env)
	if err != nil {
		return fail(exitSetup, "env: %v", err)
	}
	// From here on, no allocation: the address space may be at its limit.
	if as != nil {
		if _, _, errno := unix.RawSyscall(unix.SYS_SETRLIMIT, unix.RLIMIT_AS, uintptr(unsafe.Pointer(as)), 0); errno != 0 {
			return fail(exitSetup, "setrlimit address space: %v", errno)
		}
	}
	_, _, errno := unix.RawSyscall(unix.SYS_EXECVE, uintptr(unsafe.Pointer(path)),
		uintptr(unsafe.Pointer(&args[0])), uintptr(unsafe.Pointer(&env[0])))
	if errno == unix.ENOMEM {
		// Not an infrastructure failure: the command's memory limit is
		// too small for it. Say so the way C programs do.
		_, _ = unix.Write(2, []byte(HelperName+": "+s.Path+": Cannot allocate memory\n"))
		return exitNoSpace
	}
	return fail(exitNoExec, "%v", &os.PathError{Op: "execve", Path: s.Path, Err: errno})
}

// dropCaps empties this thread's capability sets, the bounding set included
// when it may (with CAP_SETPCAP: a node running as root), so that nothing
// it executes has a capability, not even a program run as root.
func dropCaps() error {
	var data [2]unix.CapUserData
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capget: %w", err)
	}
	const capSetpcap = 8
	if data[0].Effective&(1<<capSetpcap) != 0 {
		for c := 0; c < 64; c++ {
			if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
				if errors.Is(err, syscall.EINVAL) {
					break // past the last capability
				}
				return fmt.Errorf("bounding set: %w", err)
			}
		}
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("ambient set: %w", err)
	}
	data = [2]unix.CapUserData{}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	return nil
}
