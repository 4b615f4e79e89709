package executor

import (
	"io"
	"io/fs"
	"os"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/experimental/sysfs"
	"github.com/tetratelabs/wazero/sys"
)

// rootFile is a file of a rootFS. Writes to a regular file of a writable
// mount go through its quota.
type rootFile struct {
	// File provides Seek only (every other method is rootFile's own): see
	// seekHook.
	experimentalsys.File

	fs       *rootFS
	file     *os.File
	name     string
	isDir    bool
	dev      uint64
	ino      uint64
	append   bool
	nonblock bool
	closed   bool
	node     *fileNode // regular file of a writable mount
}

var _ experimentalsys.PollableFile = (*rootFile)(nil)

// newFile wraps f, opened as p. For a writable mount it is called with the
// quota's lock held.
func (r *rootFS) newFile(p string, f *os.File, flag experimentalsys.Oflag, created bool) (*rootFile, experimentalsys.Errno) {
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, toErrno(err)
	}
	st := sys.NewStat_t(info)
	file := &rootFile{
		fs: r, file: f, name: p, isDir: info.IsDir(), dev: st.Dev, ino: st.Ino,
		append:   flag&experimentalsys.O_APPEND != 0,
		nonblock: flag&experimentalsys.O_NONBLOCK != 0,
	}
	hook, errno := (&sysfs.AdaptFS{FS: seekHook{file}}).OpenFile(".", experimentalsys.O_RDONLY, 0)
	if errno != 0 {
		f.Close()
		return nil, errno
	}
	file.File = hook
	if flag&experimentalsys.O_DIRECTORY != 0 && !file.isDir {
		f.Close()
		return nil, experimentalsys.ENOTDIR
	}
	if !r.readOnly && info.Mode().IsRegular() {
		size := info.Size()
		if created {
			size = 0
		}
		file.node = r.quota.open(st.Ino, size)
	}
	return file, 0
}

func (f *rootFile) Dev() (uint64, experimentalsys.Errno)    { return f.dev, 0 }
func (f *rootFile) Ino() (sys.Inode, experimentalsys.Errno) { return f.ino, 0 }
func (f *rootFile) IsDir() (bool, experimentalsys.Errno)    { return f.isDir, 0 }
func (f *rootFile) IsAppend() bool                          { return f.append }
func (f *rootFile) IsNonblock() bool                        { return f.nonblock }

// SetAppend sets append mode (done by Write: the host file has none).
func (f *rootFile) SetAppend(enable bool) experimentalsys.Errno {
	f.append = enable
	return 0
}

// SetNonblock records the flag: a regular file or directory never blocks.
func (f *rootFile) SetNonblock(enable bool) experimentalsys.Errno {
	f.nonblock = enable
	return 0
}

// Poll reports a file ready: reads and writes of files do not block.
func (f *rootFile) Poll(experimentalsys.Pflag, int32) (bool, experimentalsys.Errno) {
	return true, 0
}

func (f *rootFile) Stat() (sys.Stat_t, experimentalsys.Errno) {
	if f.closed {
		return sys.Stat_t{}, experimentalsys.EBADF
	}
	info, err := f.file.Stat()
	if err != nil {
		return sys.Stat_t{}, toErrno(err)
	}
	return sys.NewStat_t(info), 0
}

// check refuses an operation on a closed file, or on a directory.
func (f *rootFile) check() experimentalsys.Errno {
	switch {
	case f.closed:
		return experimentalsys.EBADF
	case f.isDir:
		return experimentalsys.EISDIR
	}
	return 0
}

func (f *rootFile) Read(buf []byte) (int, experimentalsys.Errno) {
	if errno := f.check(); errno != 0 {
		return 0, errno
	}
	if len(buf) == 0 {
		return 0, 0
	}
	n, err := f.file.Read(buf)
	return n, toErrno(err)
}

func (f *rootFile) Pread(buf []byte, off int64) (int, experimentalsys.Errno) {
	if errno := f.check(); errno != 0 {
		return 0, errno
	}
	if off < 0 {
		return 0, experimentalsys.EINVAL
	}
	if len(buf) == 0 {
		return 0, 0
	}
	n, err := f.file.ReadAt(buf, off)
	return n, toErrno(err)
}

// seek is the file's Seek (see seekHook).
func (f *rootFile) seek(offset int64, whence int) (int64, error) {
	if f.closed {
		return 0, experimentalsys.EBADF
	}
	if uint(whence) > io.SeekEnd {
		return 0, experimentalsys.EINVAL
	}
	return f.file.Seek(offset, whence)
}

func (f *rootFile) Readdir(n int) ([]experimentalsys.Dirent, experimentalsys.Errno) {
	switch {
	case f.closed:
		return nil, experimentalsys.EBADF
	case !f.isDir:
		return nil, experimentalsys.ENOTDIR
	}
	infos, err := f.file.Readdir(n)
	if errno := toErrno(err); errno != 0 {
		return nil, errno
	}
	dirents := make([]experimentalsys.Dirent, 0, len(infos))
	for _, info := range infos {
		dirents = append(dirents, experimentalsys.Dirent{Name: info.Name(), Ino: inode(info), Type: info.Mode().Type()})
	}
	return dirents, 0
}

// Write writes at the file's offset, or at its end in append mode.
func (f *rootFile) Write(buf []byte) (int, experimentalsys.Errno) {
	return f.write(buf, 0, false)
}

// Pwrite writes at off.
func (f *rootFile) Pwrite(buf []byte, off int64) (int, experimentalsys.Errno) {
	return f.write(buf, off, true)
}

func (f *rootFile) write(buf []byte, off int64, at bool) (int, experimentalsys.Errno) {
	if errno := f.check(); errno != 0 {
		return 0, errno
	}
	if len(buf) == 0 {
		return 0, 0
	}
	if f.node == nil { // read-only mount: the host file refuses
		var n int
		var err error
		if at {
			n, err = f.file.WriteAt(buf, off)
		} else {
			n, err = f.file.Write(buf)
		}
		return n, toErrno(err)
	}
	q := f.fs.quota
	q.mu.Lock()
	defer q.mu.Unlock()
	if !at {
		var err error
		if f.append {
			off, err = f.file.Seek(f.node.size, io.SeekStart)
		} else {
			off, err = f.file.Seek(0, io.SeekCurrent)
		}
		if err != nil {
			return 0, toErrno(err)
		}
	}
	allowed, errno := q.grow(f.node, off, len(buf))
	if errno != 0 {
		return 0, errno
	}
	var n int
	var err error
	if at {
		n, err = f.file.WriteAt(buf[:allowed], off)
	} else {
		n, err = f.file.Write(buf[:allowed])
	}
	q.wrote(f.node, off+int64(n))
	return n, toErrno(err)
}

// Truncate resizes the file, within the quota.
func (f *rootFile) Truncate(size int64) experimentalsys.Errno {
	if errno := f.check(); errno != 0 {
		return errno
	}
	if f.node == nil {
		if size < 0 {
			return experimentalsys.EINVAL
		}
		return toErrno(f.file.Truncate(size))
	}
	q := f.fs.quota
	q.mu.Lock()
	defer q.mu.Unlock()
	return f.truncate(size)
}

// truncate is Truncate with the quota's lock held.
func (f *rootFile) truncate(size int64) experimentalsys.Errno {
	q := f.fs.quota
	if errno := q.resize(f.node, size); errno != 0 {
		return errno
	}
	if err := f.file.Truncate(size); err != nil {
		return toErrno(err)
	}
	q.resized(f.node, size)
	return 0
}

func (f *rootFile) Sync() experimentalsys.Errno {
	if f.closed {
		return experimentalsys.EBADF
	}
	return toErrno(f.file.Sync())
}

func (f *rootFile) Datasync() experimentalsys.Errno { return f.Sync() }

// Utimens sets the times of the file, by its name beneath the root.
func (f *rootFile) Utimens(atim, mtim int64) experimentalsys.Errno {
	if f.closed {
		return experimentalsys.EBADF
	}
	return f.fs.Utimens(f.name, atim, mtim)
}

func (f *rootFile) Close() experimentalsys.Errno {
	if f.closed {
		return 0
	}
	f.closed = true
	if f.node != nil {
		f.fs.quota.close(f.ino, f.node)
	}
	return toErrno(f.file.Close())
}

// closeLocked closes a file while the quota's lock is held.
func (f *rootFile) closeLocked() {
	f.closed = true
	if f.node != nil {
		f.node.refs--
	}
	f.file.Close()
}

// seekHook gives rootFile its Seek method. The sys.File interface wants
// Seek(int64, int) (int64, sys.Errno), a signature go vet refuses to see
// declared (it is not io.Seeker's); wazero's adapter of an fs.File declares
// it and calls seekHook's io.Seeker. seekHook is also the fs.FS the adapter
// opens it from, and says it is a regular file so that the adapter passes
// every seek on (a directory is rewound by seeking its host file to 0).
type seekHook struct{ f *rootFile }

func (h seekHook) Open(string) (fs.File, error)                 { return h, nil }
func (h seekHook) Stat() (fs.FileInfo, error)                   { return hookInfo{}, nil }
func (h seekHook) Read([]byte) (int, error)                     { return 0, io.EOF }
func (h seekHook) Close() error                                 { return nil }
func (h seekHook) Seek(offset int64, whence int) (int64, error) { return h.f.seek(offset, whence) }

// hookInfo is seekHook's FileInfo: a regular file.
type hookInfo struct{}

func (hookInfo) Name() string       { return "." }
func (hookInfo) Size() int64        { return 0 }
func (hookInfo) Mode() fs.FileMode  { return 0o400 }
func (hookInfo) ModTime() time.Time { return time.Time{} }
func (hookInfo) IsDir() bool        { return false }
func (hookInfo) Sys() any           { return nil }
