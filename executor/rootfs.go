package executor

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/sys"
)

// rootFS is the file system of a guest's mount: every path resolves beneath
// a host directory (os.Root), so that no symbolic link, "..", or link
// swapped in between a check and a use reaches outside it. A guest may not
// create symbolic or hard links (EPERM): a link it made could only point
// inside the mount, but none is needed, and without them every regular file
// has one name, which keeps the quota exact and the outputs collectable.
// A read-only rootFS refuses every change (EROFS); a writable one counts
// what the guest keeps in quota.
type rootFS struct {
	experimentalsys.UnimplementedFS
	root     *os.Root
	readOnly bool
	quota    *diskQuota // writable only
}

// newRootFS opens dir as a guest's mount. A writable mount counts what
// is already in it against quota.
func newRootFS(dir string, readOnly bool, quota *diskQuota) (*rootFS, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	r := &rootFS{root: root, readOnly: readOnly, quota: quota}
	if !readOnly {
		err := fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || p == "." {
				return err
			}
			quota.files++
			if d.Type().IsRegular() {
				info, err := d.Info()
				if err != nil {
					return err
				}
				quota.bytes += info.Size()
			}
			return nil
		})
		if err != nil {
			root.Close()
			return nil, err
		}
	}
	return r, nil
}

// Close closes the root (the guest's files are closed by its module).
func (r *rootFS) Close() error { return r.root.Close() }

// toErrno maps an error of os.Root to an errno; a path that escapes the
// root (not an errno of the kernel) is EPERM.
func toErrno(err error) experimentalsys.Errno {
	if err == nil {
		return 0
	}
	errno := experimentalsys.UnwrapOSError(err)
	var se syscall.Errno
	if errno == experimentalsys.EIO && !errors.As(err, &se) {
		return experimentalsys.EPERM
	}
	return errno
}

// name maps a path of the mount as wazero gives it to one for os.Root.
func name(p string) string {
	if p == "" || p == "/" {
		return "."
	}
	return p
}

const writeFlags = experimentalsys.O_WRONLY | experimentalsys.O_RDWR | experimentalsys.O_CREAT |
	experimentalsys.O_TRUNC | experimentalsys.O_APPEND

// OpenFile opens p beneath the root.
func (r *rootFS) OpenFile(p string, flag experimentalsys.Oflag, perm fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	p = name(p)
	if r.readOnly && flag&writeFlags != 0 {
		return nil, experimentalsys.EROFS
	}
	osFlag := os.O_RDONLY
	switch {
	case flag&experimentalsys.O_RDWR != 0:
		osFlag = os.O_RDWR
	case flag&experimentalsys.O_WRONLY != 0:
		osFlag = os.O_WRONLY
	}
	if flag&experimentalsys.O_DIRECTORY != 0 && osFlag != os.O_RDONLY {
		return nil, experimentalsys.EISDIR
	}
	if r.readOnly {
		f, err := r.root.OpenFile(p, osFlag, 0)
		if err != nil {
			return nil, toErrno(err)
		}
		return r.newFile(p, f, flag, false)
	}
	// Writable: creation is counted, truncation goes through the quota
	// and append is done by the file (the host file has no O_APPEND).
	q := r.quota
	q.mu.Lock()
	defer q.mu.Unlock()
	var f *os.File
	var err error
	created := false
	if flag&experimentalsys.O_CREAT != 0 && flag&experimentalsys.O_EXCL == 0 {
		f, err = r.root.OpenFile(p, osFlag, 0)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, toErrno(err)
		}
	}
	if f == nil {
		if flag&experimentalsys.O_CREAT != 0 {
			if errno := q.reserveEntry(); errno != 0 {
				return nil, errno
			}
			f, err = r.root.OpenFile(p, osFlag|os.O_CREATE|os.O_EXCL, (perm&0o777)|0o600)
			if err != nil {
				q.files--
				return nil, toErrno(err)
			}
			created = true
		} else if f, err = r.root.OpenFile(p, osFlag, 0); err != nil {
			return nil, toErrno(err)
		}
	}
	file, errno := r.newFile(p, f, flag, created)
	if errno != 0 {
		return nil, errno
	}
	if flag&experimentalsys.O_TRUNC != 0 && file.node != nil {
		if errno := file.truncate(0); errno != 0 {
			file.closeLocked()
			return nil, errno
		}
	}
	return file, 0
}

// Lstat stats p beneath the root, not following a final link.
func (r *rootFS) Lstat(p string) (sys.Stat_t, experimentalsys.Errno) {
	info, err := r.root.Lstat(name(p))
	if err != nil {
		return sys.Stat_t{}, toErrno(err)
	}
	return sys.NewStat_t(info), 0
}

// Stat stats p beneath the root.
func (r *rootFS) Stat(p string) (sys.Stat_t, experimentalsys.Errno) {
	info, err := r.root.Stat(name(p))
	if err != nil {
		return sys.Stat_t{}, toErrno(err)
	}
	return sys.NewStat_t(info), 0
}

// Mkdir makes a directory, counted as an entry.
func (r *rootFS) Mkdir(p string, perm fs.FileMode) experimentalsys.Errno {
	if r.readOnly {
		return experimentalsys.EROFS
	}
	q := r.quota
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, err := r.root.Lstat(name(p)); err == nil {
		return experimentalsys.EEXIST
	}
	if errno := q.reserveEntry(); errno != 0 {
		return errno
	}
	if err := r.root.Mkdir(name(p), (perm&0o777)|0o700); err != nil {
		q.files--
		errno := toErrno(err)
		if errno == experimentalsys.ENOTDIR {
			errno = experimentalsys.ENOENT
		}
		return errno
	}
	return 0
}

// Chmod changes permission bits only, and keeps the owner's (so that the
// provider can always remove what the guest left).
func (r *rootFS) Chmod(p string, perm fs.FileMode) experimentalsys.Errno {
	if r.readOnly {
		return experimentalsys.EROFS
	}
	info, err := r.root.Lstat(name(p))
	if err != nil {
		return toErrno(err)
	}
	owner := fs.FileMode(0o600)
	if info.IsDir() {
		owner = 0o700
	}
	return toErrno(r.root.Chmod(name(p), (perm&0o777)|owner))
}

// Rename renames beneath the root; an entry it replaces stops counting.
func (r *rootFS) Rename(from, to string) experimentalsys.Errno {
	if r.readOnly {
		return experimentalsys.EROFS
	}
	q := r.quota
	q.mu.Lock()
	defer q.mu.Unlock()
	src, err := r.root.Lstat(name(from))
	if err != nil {
		return toErrno(err)
	}
	dst, dstErr := r.root.Lstat(name(to))
	if err := r.root.Rename(name(from), name(to)); err != nil {
		return toErrno(err)
	}
	if dstErr == nil && !os.SameFile(src, dst) {
		q.removed(dst, inode(dst))
	}
	return 0
}

// Rmdir removes an empty directory.
func (r *rootFS) Rmdir(p string) experimentalsys.Errno {
	return r.remove(p, true)
}

// Unlink removes a file.
func (r *rootFS) Unlink(p string) experimentalsys.Errno {
	return r.remove(p, false)
}

func (r *rootFS) remove(p string, dir bool) experimentalsys.Errno {
	if r.readOnly {
		return experimentalsys.EROFS
	}
	q := r.quota
	q.mu.Lock()
	defer q.mu.Unlock()
	info, err := r.root.Lstat(name(p))
	switch {
	case err != nil:
		return toErrno(err)
	case dir && !info.IsDir():
		return experimentalsys.ENOTDIR
	case !dir && info.IsDir():
		return experimentalsys.EISDIR
	}
	if err := r.root.Remove(name(p)); err != nil {
		return toErrno(err)
	}
	q.removed(info, inode(info))
	return 0
}

// Link is refused: see rootFS.
func (r *rootFS) Link(string, string) experimentalsys.Errno {
	if r.readOnly {
		return experimentalsys.EROFS
	}
	return experimentalsys.EPERM
}

// Symlink is refused: see rootFS.
func (r *rootFS) Symlink(string, string) experimentalsys.Errno {
	if r.readOnly {
		return experimentalsys.EROFS
	}
	return experimentalsys.EPERM
}

// Readlink reads a link beneath the root (only the host could have made
// one: a guest cannot).
func (r *rootFS) Readlink(p string) (string, experimentalsys.Errno) {
	s, err := r.root.Readlink(name(p))
	if err != nil {
		return "", toErrno(err)
	}
	return s, 0
}

// Utimens sets the times of p beneath the root.
func (r *rootFS) Utimens(p string, atim, mtim int64) experimentalsys.Errno {
	if r.readOnly {
		return experimentalsys.EROFS
	}
	if atim == experimentalsys.UTIME_OMIT && mtim == experimentalsys.UTIME_OMIT {
		return 0
	}
	info, err := r.root.Stat(name(p))
	if err != nil {
		return toErrno(err)
	}
	st := sys.NewStat_t(info)
	if atim == experimentalsys.UTIME_OMIT {
		atim = st.Atim
	}
	if mtim == experimentalsys.UTIME_OMIT {
		mtim = st.Mtim
	}
	return toErrno(r.root.Chtimes(name(p), time.Unix(0, atim), time.Unix(0, mtim)))
}

// inode returns info's inode number (0 where the platform has none).
func inode(info fs.FileInfo) uint64 {
	return sys.NewStat_t(info).Ino
}
