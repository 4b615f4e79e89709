package store

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A tree with anything but directories and regular files with one link is
// refused, naming the entry; its content is never read.
func TestAddDirRefusesLinks(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret")
	if err := os.WriteFile(secret, []byte("SECRET"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, entry string
		make        func(dir string) error
	}{
		{"relative symlink", "l", func(dir string) error {
			return os.Symlink("../"+filepath.Base(outside)+"/secret", filepath.Join(dir, "l"))
		}},
		{"absolute symlink", "l", func(dir string) error { return os.Symlink(secret, filepath.Join(dir, "l")) }},
		{"symlinked dir", "d", func(dir string) error { return os.Symlink(outside, filepath.Join(dir, "d")) }},
		{"hard link", "h", func(dir string) error { return os.Link(secret, filepath.Join(dir, "h")) }},
		{"fifo", "p", func(dir string) error { return syscall.Mkfifo(filepath.Join(dir, "p"), 0o600) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "tree")
			if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "sub", "ok"), []byte("ok"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := tt.make(dir); err != nil {
				t.Fatal(err)
			}
			_, _, err := s.AddDir(dir)
			if !errors.Is(err, ErrNotCollectable) || !strings.Contains(err.Error(), tt.entry+": ") {
				t.Fatalf("AddDir: %v; want ErrNotCollectable naming %s", err, tt.entry)
			}
		})
	}
}

// Export replaces a link at a path instead of writing through it.
func TestExportDoesNotFollowLinks(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"f", "d/g"} {
		if err := os.WriteFile(filepath.Join(src, p), []byte("new"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, m, err := s.AddDir(src)
	if err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir()
	victim := filepath.Join(outside, "victim")
	if err := os.WriteFile(victim, []byte("victim"), 0o644); err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	if err := os.Symlink(victim, filepath.Join(dst, "f")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dst, "d")); err != nil {
		t.Fatal(err)
	}
	err = s.Export(m, dst)
	if b, _ := os.ReadFile(victim); string(b) != "victim" {
		t.Fatalf("Export wrote through a link: victim now %q", b)
	}
	if _, serr := os.Stat(filepath.Join(outside, "g")); serr == nil {
		t.Fatal("Export wrote through a linked directory")
	}
	if err == nil {
		// f replaced; d/g refused (d resolves outside) or written beneath dst.
		if b, _ := os.ReadFile(filepath.Join(dst, "f")); string(b) != "new" {
			t.Fatalf("f = %q", b)
		}
	}
}
