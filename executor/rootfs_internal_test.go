package executor

import (
	"testing"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

// The quota follows overwrites, truncations, renames over a file and files
// removed while open.
func TestRootFSQuota(t *testing.T) {
	q := newDiskQuota(100, 3)
	r, err := newRootFS(t.TempDir(), false, q)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	open := func(p string) experimentalsys.File {
		t.Helper()
		f, errno := r.OpenFile(p, experimentalsys.O_RDWR|experimentalsys.O_CREAT, 0o644)
		if errno != 0 {
			t.Fatalf("open %s: %v", p, errno)
		}
		return f
	}
	want := func(bytes int64, files int) {
		t.Helper()
		if b, f := q.usage(); b != bytes || f != files {
			t.Fatalf("usage %d bytes %d files, want %d and %d", b, f, bytes, files)
		}
	}
	a := open("a")
	if n, errno := a.Pwrite(make([]byte, 60), 0); n != 60 || errno != 0 {
		t.Fatalf("write: %d %v", n, errno)
	}
	a.Pwrite(make([]byte, 60), 0) // in place: no growth
	want(60, 1)
	if n, _ := a.Pwrite(make([]byte, 60), 30); n != 60 {
		t.Fatalf("growing to 90: wrote %d", n)
	}
	want(90, 1)
	if n, errno := a.Pwrite(make([]byte, 20), 90); n != 10 || errno != 0 || !q.Exceeded() {
		t.Fatalf("write past the bound: %d %v, exceeded %v; want 10 bytes", n, errno, q.Exceeded())
	}
	if _, errno := a.Pwrite([]byte{1}, 100); errno != errQuota {
		t.Fatalf("write at the bound: %v", errno)
	}
	if errno := a.Truncate(1 << 40); errno != errQuota {
		t.Fatalf("huge truncate: %v", errno)
	}
	a.Truncate(40)
	want(40, 1)
	b := open("b")
	b.Pwrite(make([]byte, 50), 0)
	b.Close()
	want(90, 2)
	if errno := r.Rename("b", "a"); errno != 0 { // a is still open: counted until closed
		t.Fatal(errno)
	}
	want(90, 1)
	a.Close()
	want(50, 1)
	if errno := r.Mkdir("d", 0o755); errno != 0 {
		t.Fatal(errno)
	}
	open("d/c").Close()
	if _, errno := r.OpenFile("d/e", experimentalsys.O_RDWR|experimentalsys.O_CREAT, 0o644); errno != errQuota {
		t.Fatalf("a fourth entry: %v", errno)
	}
	if errno := r.Unlink("a"); errno != 0 {
		t.Fatal(errno)
	}
	want(0, 2)
	for _, errno := range []experimentalsys.Errno{r.Symlink("x", "l"), r.Link("d/c", "l")} {
		if errno != experimentalsys.EPERM {
			t.Fatalf("link: %v, want EPERM", errno)
		}
	}
}
