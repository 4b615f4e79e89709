package executor_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/computemesh/computemesh/executor"
)

// hostileSetup lays out, in fresh temporary directories:
//
//	base/canary             the secret, beside the run
//	base/run/inputs/...     the guest's /inputs (in.txt, links the host left)
//	base/run/outputs/...    the guest's /outputs (links the host left)
//	abs/canary              a second secret at an absolute path the guest is told
//
// and returns a check that nothing outside the mounts changed.
type hostile struct {
	base, in, out, absCanary string
	secret                   []byte
	before                   map[string][]string
}

func newHostile(t *testing.T) *hostile {
	t.Helper()
	b := make([]byte, 16)
	rand.Read(b)
	h := &hostile{base: t.TempDir(), secret: []byte("CANARY-" + hex.EncodeToString(b))}
	abs := t.TempDir()
	h.absCanary = filepath.Join(abs, "canary")
	h.in, h.out = filepath.Join(h.base, "run", "inputs"), filepath.Join(h.base, "run", "outputs")
	for _, d := range []string{h.in, h.out, filepath.Join(h.in, "hostdir"), filepath.Join(h.out, "hostdir")} {
		must(t, os.MkdirAll(d, 0o755))
	}
	must(t, os.WriteFile(filepath.Join(h.base, "canary"), h.secret, 0o644))
	must(t, os.WriteFile(h.absCanary, h.secret, 0o644))
	must(t, os.WriteFile(filepath.Join(h.in, "in.txt"), []byte("input"), 0o644))
	// Links a hostile host side could have left (a guest cannot make any).
	for _, d := range []string{h.in, h.out} {
		must(t, os.Symlink("../../canary", filepath.Join(d, "hostlink-rel")))
		must(t, os.Symlink(filepath.Join(h.base, "canary"), filepath.Join(d, "hostlink-abs")))
		must(t, os.Remove(filepath.Join(d, "hostdir")))
		must(t, os.Symlink("../..", filepath.Join(d, "hostdir")))
	}
	h.before = map[string][]string{h.base: list(t, h.base), filepath.Join(h.base, "run"): list(t, filepath.Join(h.base, "run")), abs: list(t, abs)}
	return h
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func list(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	must(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// check fails t if the canary leaked into r or the outputs, was changed, or
// a file appeared beside it or the run's directories.
func (h *hostile) check(t *testing.T, r executor.Result) {
	t.Helper()
	for _, s := range [][]byte{r.Stdout, r.Stderr} {
		if bytes.Contains(s, h.secret) || bytes.Contains(s, []byte("root:")) {
			t.Errorf("the canary leaked: stdout %q stderr %q", r.Stdout, r.Stderr)
		}
	}
	filepath.WalkDir(h.out, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if b, _ := os.ReadFile(p); bytes.Contains(b, h.secret) {
				t.Errorf("the canary leaked into output %s", p)
			}
		}
		return nil
	})
	for _, p := range []string{filepath.Join(h.base, "canary"), h.absCanary} {
		if b, err := os.ReadFile(p); err != nil || !bytes.Equal(b, h.secret) {
			t.Errorf("canary %s changed: %q, %v", p, b, err)
		}
	}
	if b, err := os.ReadFile(filepath.Join(h.in, "in.txt")); err != nil || string(b) != "input" {
		t.Errorf("input changed: %q, %v", b, err)
	}
	for dir, names := range h.before {
		if got := list(t, dir); !slices.Equal(got, names) {
			t.Errorf("%s now holds %v, was %v", dir, got, names)
		}
	}
	in := list(t, h.in)
	if want := []string{"hostdir", "hostlink-abs", "hostlink-rel", "in.txt"}; !slices.Equal(in, want) {
		t.Errorf("inputs now hold %v, want %v", in, want)
	}
}

// Guests try to reach a canary file outside their mounts: every attack is
// refused or confined, whatever it prints.
func TestHostileGuests(t *testing.T) {
	w := newWASM(t)
	attacks := []string{
		"rel-symlink-up", "abs-symlink", "dotdot-chain", "symlink-then-rename", "symlink-dir-race",
		"hardlink-abs", "hardlink-rel", "hardlink-through-symlinked-dir", "dotdot-after-link",
		"creat-through-dangling-link", "write-inputs", "rename-out", "mkdir-through-link",
		"readlink-host-links", "long-and-nul-names", "cwd-tricks", "dirfd-dotdot", "absolute-paths",
	}
	for _, name := range attacks {
		t.Run(name, func(t *testing.T) {
			h := newHostile(t)
			task := guestTask(t, "escape", name, "../../canary", h.absCanary)
			task.InputsDir, task.OutputsDir, task.Timeout = h.in, h.out, time.Minute
			task.DiskBytes, task.MaxFiles = 1<<20, 100
			r, err := w.Run(context.Background(), task)
			if err != nil {
				t.Fatal(err)
			}
			h.check(t, r)
			if r.ExitCode != 0 {
				t.Errorf("exit %d: %s %s", r.ExitCode, r.Stderr, r.Reason)
			}
			if !strings.Contains(string(r.Stderr), "refused") {
				t.Errorf("nothing was refused: stdout %q stderr %q", r.Stdout, r.Stderr)
			}
		})
	}
}

// A guest's outputs stop exactly at Task.DiskBytes and Task.MaxFiles.
func TestDiskBound(t *testing.T) {
	w := newWASM(t)
	const disk = 1_000_003
	tests := []struct {
		name         string
		args         []string
		maxFiles     int
		wantExceeded bool
		check        func(t *testing.T, r executor.Result, size int64, entries int)
	}{
		{"filler", []string{"fill", "4096"}, 0, true, func(t *testing.T, r executor.Result, size int64, _ int) {
			if size != disk {
				t.Errorf("outputs hold %d bytes, want exactly %d", size, disk)
			}
		}},
		{"sparse", []string{"sparse"}, 0, true, func(t *testing.T, r executor.Result, size int64, _ int) {
			if size != 0 || string(r.Stdout) != "true true\n" {
				t.Errorf("outputs %d bytes, stdout %q; want both huge writes refused", size, r.Stdout)
			}
		}},
		{"file count", []string{"files"}, 51, true, func(t *testing.T, r executor.Result, _ int64, entries int) {
			if entries != 51 {
				t.Errorf("outputs hold %d entries, want exactly 51", entries)
			}
		}},
		{"space is given back", []string{"churn", "600000"}, 0, false, func(t *testing.T, r executor.Result, size int64, _ int) {
			if r.ExitCode != 0 || size != 600000 {
				t.Errorf("exit %d (%s), %d bytes", r.ExitCode, r.Stderr, size)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := t.TempDir()
			task := guestTask(t, tt.args...)
			task.OutputsDir, task.Timeout, task.DiskBytes, task.MaxFiles = out, time.Minute, disk, tt.maxFiles
			r, err := w.Run(context.Background(), task)
			if err != nil {
				t.Fatal(err)
			}
			if r.DiskExceeded != tt.wantExceeded {
				t.Errorf("DiskExceeded = %v, want %v (exit %d, %s)", r.DiskExceeded, tt.wantExceeded, r.ExitCode, r.Stderr)
			}
			size, entries := outputsSize(t, out)
			tt.check(t, r, size, entries)
		})
	}
}
