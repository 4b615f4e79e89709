package atomicfile

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

var errFill = errors.New("fill failed")

func TestWrite(t *testing.T) {
	tests := []struct {
		name    string
		old     *string // content of the file before the write; nil: none
		oldDir  bool    // the path is a (non-empty) directory: the rename fails
		missing bool    // the path's directory does not exist
		perm    os.FileMode
		opts    []Option
		prefix  string // the temporary file's expected prefix
		fill    func(io.Writer) error
		want    string // content after the write (the old one on failure)
		wantErr error  // nil: success; else errors.Is the error
	}{
		{name: "new file", perm: 0o600, fill: fillWith("hello\n"), want: "hello\n"},
		{name: "new file, mode 0640", perm: 0o640, fill: fillWith("x"), want: "x"},
		{name: "empty content", perm: 0o600, fill: fillWith(""), want: ""},
		{name: "overwrite", old: ptr("old content, longer than the new"), perm: 0o600, fill: fillWith("new"), want: "new"},
		{name: "overwrite changes the mode", old: ptr("old"), perm: 0o644, fill: fillWith("new"), want: "new"},
		{name: "streamed in pieces", perm: 0o600, fill: fillWith("a", "b", "c"), want: "abc"},
		{name: "temp prefix", perm: 0o600, opts: []Option{TempPrefix(".put-")}, prefix: ".put-", fill: fillWith("p"), want: "p"},
		{name: "fill fails, old file kept", old: ptr("old"), perm: 0o600, fill: failAfter("partial"), want: "old", wantErr: errFill},
		{name: "fill fails, no file created", perm: 0o600, fill: failAfter("partial"), wantErr: errFill},
		{name: "rename fails", oldDir: true, perm: 0o600, fill: fillWith("x"), wantErr: fs.ErrExist},
		{name: "directory missing", missing: true, perm: 0o600, fill: fillWith("x"), wantErr: fs.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "f.json")
			if tt.missing {
				path = filepath.Join(dir, "gone", "f.json")
			}
			if tt.old != nil {
				if err := os.WriteFile(path, []byte(*tt.old), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if tt.oldDir {
				if err := os.MkdirAll(filepath.Join(path, "child"), 0o700); err != nil {
					t.Fatal(err)
				}
			}
			prefix := tt.prefix
			if prefix == "" {
				prefix = ".tmp-f.json-"
			}
			fill := func(w io.Writer) error {
				checkTemp(t, filepath.Dir(path), prefix, tt.missing)
				return tt.fill(w)
			}
			err := Write(path, tt.perm, fill, tt.opts...)
			checkErr(t, err, tt.wantErr, path)
			if tt.missing {
				return
			}
			checkNoTemp(t, dir, path)
			switch {
			case tt.oldDir:
				return
			case tt.wantErr != nil && tt.old == nil:
				if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("a failed write left %s: %v", path, err)
				}
				return
			}
			b, err := os.ReadFile(path)
			if err != nil || string(b) != tt.want {
				t.Fatalf("content %q, %v; want %q", b, err, tt.want)
			}
			if tt.wantErr == nil && runtime.GOOS != "windows" {
				st, err := os.Stat(path)
				if err != nil || st.Mode().Perm() != tt.perm {
					t.Fatalf("mode %v, %v; want %v", st.Mode().Perm(), err, tt.perm)
				}
			}
		})
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "key")
	for _, content := range []string{"first", "second, longer", ""} {
		if err := WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil || string(b) != content {
			t.Fatalf("content %q, %v; want %q", b, err, content)
		}
	}
	checkNoTemp(t, dir, path)
	err := WriteFile(filepath.Join(dir, "nodir", "key"), []byte("x"), 0o600)
	checkErr(t, err, fs.ErrNotExist, filepath.Join(dir, "nodir", "key"))
}

func TestSyncDir(t *testing.T) {
	if err := SyncDir(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "gone")
	err := SyncDir(missing)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Fatalf("SyncDir of a missing directory: %v", err)
	}
}

func fillWith(pieces ...string) func(io.Writer) error {
	return func(w io.Writer) error {
		for _, p := range pieces {
			if _, err := io.WriteString(w, p); err != nil {
				return err
			}
		}
		return nil
	}
}

func failAfter(partial string) func(io.Writer) error {
	return func(w io.Writer) error {
		if _, err := io.WriteString(w, partial); err != nil {
			return err
		}
		return errFill
	}
}

func ptr(s string) *string { return &s }

// checkErr checks that err is nil when want is, and otherwise wraps want
// and names path.
func checkErr(t *testing.T, err, want error, path string) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("Write: %v", err)
	case want != nil && !errors.Is(err, want):
		t.Fatalf("Write: %v; want an error wrapping %v", err, want)
	case want != nil && !strings.Contains(err.Error(), path):
		t.Fatalf("Write: %q does not name %s", err, path)
	}
}

// checkTemp checks, while the content is being written, that dir holds
// exactly one temporary file, named with prefix (unless dir is missing).
func checkTemp(t *testing.T, dir, prefix string, missing bool) {
	t.Helper()
	if missing {
		t.Error("fill called although the directory is missing")
		return
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Error(err)
		return
	}
	var temps []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix) {
			temps = append(temps, e.Name())
		}
	}
	if len(temps) != 1 {
		t.Errorf("during the write, %s holds %d files named %s*: %v", dir, len(temps), prefix, ents)
	}
}

// checkNoTemp checks that dir holds nothing but path (if that).
func checkNoTemp(t *testing.T, dir, path string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if filepath.Join(dir, e.Name()) != path {
			t.Fatalf("%s was left behind in %s", e.Name(), dir)
		}
	}
}
