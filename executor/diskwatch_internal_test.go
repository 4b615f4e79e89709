package executor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMeasureOutputs measures trees built to pass each bound, and links that
// must be counted as entries, never followed.
func TestMeasureOutputs(t *testing.T) {
	big := filepath.Join(t.TempDir(), "big") // outside the outputs
	if err := os.WriteFile(big, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	file := func(name string, size int) func(string) error {
		return func(dir string) error {
			p := filepath.Join(dir, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			return os.WriteFile(p, make([]byte, size), 0o644)
		}
	}
	link := func(target, name string) func(string) error {
		return func(dir string) error { return os.Symlink(target, filepath.Join(dir, name)) }
	}
	deep := func(levels int) func(string) error {
		return func(dir string) error {
			p := dir
			for range levels {
				p = filepath.Join(p, "d")
			}
			return os.MkdirAll(p, 0o755)
		}
	}
	tests := []struct {
		name        string
		build       []func(string) error
		disk        uint64
		files       int
		want        diskReason
		wantBytes   uint64
		wantEntries int
		wantReason  string
	}{
		{name: "empty", disk: 10, files: 10, want: diskOK},
		{name: "within", build: []func(string) error{file("a", 100), file("sub/b", 200)}, disk: 300, files: 3,
			want: diskOK, wantBytes: 300, wantEntries: 3},
		{name: "over bytes", build: []func(string) error{file("a", 100), file("sub/b", 201)}, disk: 300,
			want: diskOverBytes, wantReason: "over the limit of 300 bytes"},
		{name: "over files", build: []func(string) error{file("a", 1), file("b", 1), file("c", 1)}, files: 2,
			want: diskOverFiles, wantReason: "more than 2 files"},
		{name: "directories count as entries", build: []func(string) error{file("x/y/z/a", 1)}, files: 3,
			want: diskOverFiles},
		{name: "absolute link not followed", build: []func(string) error{link(big, "l")}, disk: 1000,
			want: diskOK, wantEntries: 1},
		{name: "relative link not followed", build: []func(string) error{link("../../..", "up"), file("a", 10)}, disk: 1000,
			want: diskOK, wantBytes: 10, wantEntries: 2},
		{name: "link loop not followed", build: []func(string) error{file("d/a", 10), link(".", "d/self"), link("..", "d/parent")},
			disk: 1000, want: diskOK, wantBytes: 10, wantEntries: 4},
		{name: "too deep", build: []func(string) error{deep(DiskScanMaxDepth + 1)}, disk: 1000,
			want: diskTooDeep, wantReason: "deeper than"},
		{name: "deep within", build: []func(string) error{deep(DiskScanMaxDepth - 1)}, disk: 1000,
			want: diskOK, wantEntries: DiskScanMaxDepth - 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, b := range tc.build {
				if err := b(dir); err != nil {
					t.Fatal(err)
				}
			}
			task := &Task{OutputsDir: dir, DiskBytes: tc.disk, MaxFiles: tc.files}
			u := measureOutputs(dir, task)
			if u.reason != tc.want {
				t.Fatalf("reason %d (%s), want %d", u.reason, u.message(task), tc.want)
			}
			if tc.want == diskOK && (u.bytes != tc.wantBytes || u.entries != tc.wantEntries) {
				t.Errorf("measured %d bytes in %d entries, want %d in %d", u.bytes, u.entries, tc.wantBytes, tc.wantEntries)
			}
			if msg := u.message(task); tc.want != diskOK && !strings.Contains(msg, tc.wantReason) {
				t.Errorf("message %q: want it to name %q", msg, tc.wantReason)
			}
		})
	}
	t.Run("missing directory", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "gone")
		u := measureOutputs(dir, &Task{DiskBytes: 1})
		if u.reason != diskUnreadable || !strings.Contains(u.message(&Task{}), "cannot be measured") {
			t.Errorf("reason %d %q: want it unreadable", u.reason, u.message(&Task{}))
		}
	})
}

func TestNextDiskCheck(t *testing.T) {
	tests := []struct {
		cost, want time.Duration
	}{
		{0, diskCheckMinInterval},
		{20 * time.Microsecond, diskCheckMinInterval},
		{time.Millisecond, 20 * time.Millisecond},
		{time.Second, DiskCheckInterval},
	}
	for _, tc := range tests {
		if got := nextDiskCheck(tc.cost); got != tc.want {
			t.Errorf("after a scan of %v: next in %v, want %v", tc.cost, got, tc.want)
		}
	}
}
