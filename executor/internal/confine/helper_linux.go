package confine

import (
	"os"
	"runtime"
	"strconv"
	"syscall"
	"unsafe"
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
	status := os.NewFile(StatusFD, "status")
	syscall.CloseOnExec(StatusFD)
	fail := func(code int, msg string, err error) int {
		switch {
		case msg == "":
			msg = err.Error()
		case err != nil:
			msg += ": " + err.Error()
		}
		if _, werr := status.WriteString(msg); werr != nil {
			_, _ = os.Stderr.WriteString(HelperName + ": " + msg + "\n") // started by hand
		}
		return code
	}
	s, err := parseArgv(argv)
	if err != nil {
		return fail(exitSetup, "helper", err)
	}
	as, msg, err := confineSelf(s)
	if err != nil {
		return fail(exitSetup, msg, err)
	}
	if s.Probe {
		return 0
	}
	return execConfined(s, as, fail)
}

// confineSelf applies s to this thread: no new privileges, no
// capabilities, resource limits, Landlock and seccomp. It returns the
// address-space limit still to set (last: the helper itself may still need
// memory), or what failed (msg) and why.
func confineSelf(s *Spec) (as *syscall.Rlimit, msg string, err error) {
	if errno := prctl(prSetNoNewPrivs, 1, 0, 0, 0); errno != 0 {
		return nil, "no_new_privs", errno
	}
	if s.DropCaps {
		if err := dropCaps(); err != nil {
			return nil, "dropping capabilities", err
		}
	}
	for _, l := range s.Limits {
		lim := syscall.Rlimit{Cur: l.Value, Max: l.Value}
		if l.Resource == syscall.RLIMIT_AS {
			as = &lim // last: the helper itself may still need memory
			continue
		}
		if err := syscall.Setrlimit(l.Resource, &lim); err != nil {
			return nil, "setrlimit " + strconv.Itoa(l.Resource), err
		}
	}
	if s.Landlock {
		if err := restrictSelf(RulesetFD); err != nil {
			return nil, "", err
		}
		_ = syscall.Close(RulesetFD)
	}
	if s.Seccomp {
		if err := installSeccomp(); err != nil {
			return nil, "", err
		}
	}
	return as, "", nil
}

// execConfined sets the address-space limit as, if any, and executes the
// command; it returns only on failure, with the exit status fail gives.
func execConfined(s *Spec, as *syscall.Rlimit, fail func(code int, msg string, err error) int) int {
	path, err := syscall.BytePtrFromString(s.Path)
	if err != nil {
		return fail(exitSetup, "path", err)
	}
	args, err := syscall.SlicePtrFromStrings(s.Args)
	if err != nil {
		return fail(exitSetup, "args", err)
	}
	env, err := syscall.SlicePtrFromStrings(s.Env)
	if err != nil {
		return fail(exitSetup, "env", err)
	}
	// From here on, no allocation: the address space may be at its limit.
	if as != nil {
		if _, _, errno := syscall.RawSyscall(syscall.SYS_SETRLIMIT, syscall.RLIMIT_AS, uintptr(unsafe.Pointer(as)), 0); errno != 0 {
			return fail(exitSetup, "setrlimit address space", errno)
		}
	}
	_, _, errno := syscall.RawSyscall(syscall.SYS_EXECVE, uintptr(unsafe.Pointer(path)),
		uintptr(unsafe.Pointer(&args[0])), uintptr(unsafe.Pointer(&env[0])))
	if errno == syscall.ENOMEM {
		// Not an infrastructure failure: the command's memory limit is
		// too small for it. Say so the way C programs do.
		_, _ = syscall.Write(2, []byte(HelperName+": "+s.Path+": Cannot allocate memory\n"))
		return exitNoSpace
	}
	return fail(exitNoExec, "", &os.PathError{Op: "execve", Path: s.Path, Err: errno})
}

// dropCaps empties this thread's capability sets, the bounding set included
// when it may (with CAP_SETPCAP: a node running as root), so that nothing
// it executes has a capability, not even a program run as root.
func dropCaps() error {
	hdr := capHeader{version: linuxCapabilityVersion3}
	var data [2]capData
	if errno := capget(&hdr, &data); errno != 0 {
		return os.NewSyscallError("capget", errno)
	}
	if data[0].effective&(1<<capSetpcap) != 0 {
		for c := uintptr(0); c < 64; c++ {
			if errno := prctl(prCapbsetDrop, c, 0, 0, 0); errno != 0 {
				if errno == syscall.EINVAL {
					break // past the last capability
				}
				return os.NewSyscallError("prctl PR_CAPBSET_DROP", errno)
			}
		}
	}
	if errno := prctl(prCapAmbient, prCapAmbientClearAll, 0, 0, 0); errno != 0 && errno != syscall.EINVAL {
		return os.NewSyscallError("prctl PR_CAP_AMBIENT", errno)
	}
	data = [2]capData{}
	if errno := capset(&hdr, &data); errno != 0 {
		return os.NewSyscallError("capset", errno)
	}
	return nil
}
