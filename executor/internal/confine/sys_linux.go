package confine

import (
	"syscall"
	"unsafe"
)

// This package uses only the standard library, so that a helper process
// reaches its init before the binary's heavier packages initialize (the
// runtime initializes packages in import-path order as they become ready).

// System call numbers shared by every architecture's table.
const (
	sysIOURingSetup          = 425
	sysLandlockCreateRuleset = 444
	sysLandlockAddRule       = 445
	sysLandlockRestrictSelf  = 446
)

// Landlock (linux/landlock.h).
const (
	landlockCreateRulesetVersion = 1
	landlockRulePathBeneath      = 1

	accessFSExecute    = 1 << 0
	accessFSWriteFile  = 1 << 1
	accessFSReadFile   = 1 << 2
	accessFSReadDir    = 1 << 3
	accessFSRemoveDir  = 1 << 4
	accessFSRemoveFile = 1 << 5
	accessFSMakeChar   = 1 << 6
	accessFSMakeDir    = 1 << 7
	accessFSMakeReg    = 1 << 8
	accessFSMakeSock   = 1 << 9
	accessFSMakeFifo   = 1 << 10
	accessFSMakeBlock  = 1 << 11
	accessFSMakeSym    = 1 << 12
	accessFSRefer      = 1 << 13
	accessFSTruncate   = 1 << 14
	accessFSIoctlDev   = 1 << 15

	scopeAbstractUnixSocket = 1 << 0
	scopeSignal             = 1 << 1
)

type landlockRulesetAttr struct {
	accessFS  uint64
	accessNet uint64
	scoped    uint64
}

type landlockPathBeneathAttr struct {
	allowedAccess uint64
	parentFD      int32
} // packed in the kernel: 12 bytes

// prctl(2) and capabilities.
const (
	prSetNoNewPrivs         = 38
	prCapbsetDrop           = 24
	prCapAmbient            = 47
	prCapAmbientClearAll    = 4
	prSetSeccomp            = 22
	seccompModeFilter       = 2
	linuxCapabilityVersion3 = 0x20080522
	capSetpcap              = 8
)

type capHeader struct {
	version uint32
	pid     int32
}

type capData struct {
	effective, permitted, inheritable uint32
}

// seccomp and audit.
const (
	seccompRetAllow   = 0x7fff0000
	seccompRetErrno   = 0x00050000
	auditArchX86_64   = 0xc000003e
	auditArchAArch64  = 0xc00000b7
	x32SyscallBit     = 0x40000000
	seccompDataNr     = 0
	seccompDataArch   = 4
	seccompDataArg0Lo = 16 // little-endian machines (amd64, arm64)
)

func prctl(op, a2, a3, a4, a5 uintptr) syscall.Errno {
	_, _, errno := syscall.RawSyscall6(syscall.SYS_PRCTL, op, a2, a3, a4, a5, 0)
	return errno
}

func capget(h *capHeader, d *[2]capData) syscall.Errno {
	_, _, errno := syscall.RawSyscall(syscall.SYS_CAPGET, uintptr(unsafe.Pointer(h)), uintptr(unsafe.Pointer(&d[0])), 0)
	return errno
}

func capset(h *capHeader, d *[2]capData) syscall.Errno {
	_, _, errno := syscall.RawSyscall(syscall.SYS_CAPSET, uintptr(unsafe.Pointer(h)), uintptr(unsafe.Pointer(&d[0])), 0)
	return errno
}
