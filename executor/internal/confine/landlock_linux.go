package confine

import (
	"errors"
	"os"
	"strconv"
	"syscall"
	"unsafe"
)

// Landlock access rights, for Ruleset.Allow.
const (
	// AccessRead reads files and lists directories.
	AccessRead = accessFSReadFile | accessFSReadDir
	// AccessExec executes files.
	AccessExec = accessFSExecute
	// AccessWrite writes, truncates, creates, removes and renames or links
	// (between directories that both allow it) files and directories,
	// symbolic links and FIFOs included; not devices nor sockets.
	AccessWrite = accessFSWriteFile | accessFSTruncate |
		accessFSRemoveDir | accessFSRemoveFile |
		accessFSMakeDir | accessFSMakeReg |
		accessFSMakeFifo | accessFSMakeSym |
		accessFSRefer
	// AccessMakeSym creates symbolic links (part of AccessWrite).
	AccessMakeSym = accessFSMakeSym

	// accessFile are the rights that apply to a file rather than a
	// directory's contents.
	accessFile = accessFSExecute | accessFSWriteFile |
		accessFSReadFile | accessFSTruncate |
		accessFSIoctlDev
)

// oPath is O_PATH, which package syscall does not name.
const oPath = 0x200000

// handledFS returns the file-system rights a ruleset of Landlock ABI abi
// handles: all that ABI knows, so that whatever is not allowed is denied.
func handledFS(abi int) uint64 {
	h := uint64(accessFSMakeSym<<1 - 1) // ABI 1: EXECUTE … MAKE_SYM
	if abi >= 2 {
		h |= accessFSRefer
	}
	if abi >= 3 {
		h |= accessFSTruncate
	}
	if abi >= 5 {
		h |= accessFSIoctlDev
	}
	return h
}

// ScopesSignals reports whether Landlock ABI abi keeps a restricted
// process from signalling processes outside its domain (and from reaching
// abstract Unix sockets outside it): ABI 6 and later.
func ScopesSignals(abi int) bool { return abi >= 6 }

// LandlockABI returns the Landlock ABI version of the running kernel; an
// error says why Landlock cannot be used.
func LandlockABI() (int, error) {
	v, _, errno := syscall.Syscall(sysLandlockCreateRuleset, 0, 0, landlockCreateRulesetVersion)
	switch {
	case errno == syscall.ENOSYS:
		return 0, errors.New("Landlock: this kernel does not have it (Linux 5.13 or later with CONFIG_SECURITY_LANDLOCK)")
	case errno == syscall.EOPNOTSUPP:
		return 0, errors.New("Landlock: this kernel has it but it is not enabled (add landlock to the lsm= boot parameter)")
	case errno != 0:
		return 0, os.NewSyscallError("Landlock: landlock_create_ruleset", errno)
	}
	return int(v), nil
}

// Ruleset is a Landlock ruleset being built: what a restricted process may
// do beneath some paths. It handles every file-system right of its ABI and,
// from ABI 6, scopes signals and abstract Unix sockets.
type Ruleset struct {
	f       *os.File
	handled uint64
}

// NewRuleset creates an empty ruleset for Landlock ABI abi (at least 1).
func NewRuleset(abi int) (*Ruleset, error) {
	if abi < 1 {
		return nil, errors.New("Landlock ABI " + strconv.Itoa(abi))
	}
	attr := landlockRulesetAttr{accessFS: handledFS(abi)}
	size := unsafe.Sizeof(attr)
	if ScopesSignals(abi) {
		attr.scoped = scopeSignal | scopeAbstractUnixSocket
	} else {
		size = unsafe.Offsetof(attr.scoped) // older kernels know a shorter struct
	}
	fd, _, errno := syscall.Syscall(sysLandlockCreateRuleset, uintptr(unsafe.Pointer(&attr)), size, 0)
	if errno != 0 {
		return nil, os.NewSyscallError("landlock_create_ruleset", errno)
	}
	return &Ruleset{f: os.NewFile(fd, "landlock-ruleset"), handled: attr.accessFS}, nil
}

// Allow lets a restricted process have access beneath path (a directory)
// or to path (a file: only the rights that apply to files are kept). A
// path that does not exist is an error matching fs.ErrNotExist.
func (r *Ruleset) Allow(path string, access uint64) error {
	fd, err := syscall.Open(path, oPath|syscall.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "landlock rule", Path: path, Err: err}
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return &os.PathError{Op: "landlock rule", Path: path, Err: err}
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		access &= accessFile
	}
	access &= r.handled
	if access == 0 {
		return nil
	}
	rule := landlockPathBeneathAttr{allowedAccess: access, parentFD: int32(fd)}
	_, _, errno := syscall.Syscall6(sysLandlockAddRule, r.f.Fd(), landlockRulePathBeneath,
		uintptr(unsafe.Pointer(&rule)), 0, 0, 0)
	if errno != 0 {
		return &os.PathError{Op: "landlock_add_rule", Path: path, Err: errno}
	}
	return nil
}

// File is the ruleset's descriptor, to hand to the helper as RulesetFD.
func (r *Ruleset) File() *os.File { return r.f }

// Close releases the ruleset.
func (r *Ruleset) Close() error { return r.f.Close() }

// restrictSelf restricts the calling thread (and what it executes) with
// the ruleset at fd. No-new-privileges must be set.
func restrictSelf(fd int) error {
	if _, _, errno := syscall.Syscall(sysLandlockRestrictSelf, uintptr(fd), 0, 0); errno != 0 {
		return os.NewSyscallError("landlock_restrict_self", errno)
	}
	return nil
}
