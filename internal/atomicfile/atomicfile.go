package atomicfile

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Option adjusts a write.
type Option func(*options)

type options struct {
	prefix    string
	noDirSync bool
	noSync    bool
}

// NoDirSync leaves the directory unsynced: the caller syncs it itself
// (SyncDir), once for several files written in it, before it counts on
// their names surviving a crash (a group commit). The file's content is
// still synced before it replaces the old one.
func NoDirSync() Option {
	return func(o *options) { o.noDirSync = true }
}

// NoSync syncs neither the file nor its directory: the caller makes many
// files durable at once itself (a syncfs of their file system) before it
// counts on them, and reads them in a way that finds a file a crash left
// incomplete (a content-addressed store that hashes what it reads). The
// rename is still atomic: the name never shows a partly written file
// while the system runs.
func NoSync() Option {
	return func(o *options) { o.noSync, o.noDirSync = true, true }
}

// TempPrefix names the temporary file prefix followed by random characters
// (instead of ".tmp-<base name>-"). The prefix must not contain a path
// separator.
func TempPrefix(prefix string) Option {
	return func(o *options) { o.prefix = prefix }
}

// WriteFile replaces path with data, durably (see the package doc), with
// mode perm. perm is applied as given: the umask does not narrow it.
// The directory of path must exist.
func WriteFile(path string, data []byte, perm os.FileMode, opts ...Option) error {
	return Write(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	}, opts...)
}

// Write replaces path, durably (see the package doc), with mode perm and
// the content fill writes. When fill returns an error, the write stops
// there: the temporary file is removed, path is left as it was, and the
// error is returned (wrapped). fill must not keep w after it returns.
func Write(path string, perm os.FileMode, fill func(io.Writer) error, opts ...Option) error {
	o := options{prefix: ".tmp-" + filepath.Base(path) + "-"}
	for _, opt := range opts {
		opt(&o)
	}
	dir := filepath.Dir(path)
	tmp, err := writeTemp(dir, o.prefix, perm, !o.noSync, fill)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if o.noDirSync {
		return nil
	}
	if err := SyncDir(dir); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// writeTemp creates a temporary file in dir, sets its mode, fills it,
// fsyncs it (with sync) and closes it, and returns its name; on failure it removes it.
func writeTemp(dir, prefix string, perm os.FileMode, sync bool, fill func(io.Writer) error) (name string, err error) {
	f, err := os.CreateTemp(dir, prefix+"*")
	if err != nil {
		return "", fmt.Errorf("creating a temporary file: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(perm); err != nil {
		return "", err
	}
	if err := fill(f); err != nil {
		return "", err
	}
	if sync {
		if err := f.Sync(); err != nil {
			return "", err
		}
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return f.Name(), nil
}

// SyncDir fsyncs the directory dir, so that the names created, renamed or
// removed in it survive a crash.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}
