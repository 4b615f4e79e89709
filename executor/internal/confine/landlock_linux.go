package confine

import (
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Landlock access rights, for Ruleset.Allow.
const (
	// AccessRead reads files and lists directories.
	AccessRead = unix.LANDLOCK_ACCESS_FS_READ_FILE | unix.LANDLOCK_ACCESS_FS_READ_DIR
	// AccessExec executes files.
	AccessExec = unix.LANDLOCK_ACCESS_FS_EXECUTE
	// AccessWrite writes, truncates, creates, removes and renames or links
	// (between directories that both allow it) files and directories,
	// symbolic links and FIFOs included; not devices nor sockets.
	AccessWrite = unix.LANDLOCK_ACCESS_FS_WRITE_FILE | unix.LANDLOCK_ACCESS_FS_TRUNCATE |
		unix.LANDLOCK_ACCESS_FS_REMOVE_DIR | unix.LANDLOCK_ACCESS_FS_REMOVE_FILE |
		unix.LANDLOCK_ACCESS_FS_MAKE_DIR | unix.LANDLOCK_ACCESS_FS_MAKE_REG |
		unix.LANDLOCK_ACCESS_FS_MAKE_FIFO | unix.LANDLOCK_ACCESS_FS_MAKE_SYM |
		unix.LANDLOCK_ACCESS_FS_REFER
	// AccessMakeSym creates symbolic links (part of AccessWrite).
	AccessMakeSym = unix.LANDLOCK_ACCESS_FS_MAKE_SYM

	// accessFile are the rights that apply to a file rather than a
	// directory's contents.
	accessFile = unix.LANDLOCK_ACCESS_FS_EXECUTE | unix.LANDLOCK_ACCESS_FS_WRITE_FILE |
		unix.LANDLOCK_ACCESS_FS_READ_FILE | unix.LANDLOCK_ACCESS_FS_TRUNCATE |
		unix.LANDLOCK_ACCESS_FS_IOCTL_DEV
)

// handledFS returns the file-system rights a ruleset of Landlock ABI abi
// handles: all that ABI knows, so that whatever is not allowed is denied.
func handledFS(abi int) uint64 {
	h := uint64(unix.LANDLOCK_ACCESS_FS_MAKE_SYM<<1 - 1) // ABI 1: EXECUTE … MAKE_SYM
	if abi >= 2 {
		h |= unix.LANDLOCK_ACCESS_FS_REFER
	}
	if abi >= 3 {
		h |= unix.LANDLOCK_ACCESS_FS_TRUNCATE
	}
	if abi >= 5 {
		h |= unix.LANDLOCK_ACCESS_FS_IOCTL_DEV
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
	v, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	switch {
	case errno == unix.ENOSYS:
		return 0, errors.New("Landlock: this kernel does not have it (Linux 5.13 or later with CONFIG_SECURITY_LANDLOCK)")
	case errno == unix.EOPNOTSUPP:
		return 0, errors.New("Landlock: this kernel has it but it is not enabled (add landlock to the lsm= boot parameter)")
	case errno != 0:
		return 0, fmt.Errorf("Landlock: %w", errno)
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
		return nil, fmt.Errorf("Landlock ABI %d", abi)
	}
	attr := unix.LandlockRulesetAttr{Access_fs: handledFS(abi)}
	size := unsafe.Sizeof(attr)
	if ScopesSignals(abi) {
		attr.Scoped = unix.LANDLOCK_SCOPE_SIGNAL | unix.LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
	} else {
		size = unsafe.Offsetof(attr.Scoped) // older kernels know a shorter struct
	}
	fd, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr)), size, 0)
	if errno != 0 {
		return nil, fmt.Errorf("landlock_create_ruleset: %w", errno)
	}
	return &Ruleset{f: os.NewFile(fd, "landlock-ruleset"), handled: attr.Access_fs}, nil
}

// Allow lets a restricted process have access beneath path (a directory)
// or to path (a file: only the rights that apply to files are kept). A
// path that does not exist is an error matching fs.ErrNotExist.
func (r *Ruleset) Allow(path string, access uint64) error {
	fd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "landlock rule", Path: path, Err: err}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return &os.PathError{Op: "landlock rule", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		access &= accessFile
	}
	access &= r.handled
	if access == 0 {
		return nil
	}
	rule := unix.LandlockPathBeneathAttr{Allowed_access: access, Parent_fd: int32(fd)}
	_, _, errno := unix.Syscall6(unix.SYS_LANDLOCK_ADD_RULE, r.f.Fd(), unix.LANDLOCK_RULE_PATH_BENEATH,
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
	if _, _, errno := unix.Syscall(unix.SYS_LANDLOCK_RESTRICT_SELF, uintptr(fd), 0, 0); errno != 0 {
		return fmt.Errorf("landlock_restrict_self: %w", errno)
	}
	return nil
}
