package unixfs_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/computemesh/computemesh/internal/kubofixture"
	"github.com/computemesh/computemesh/internal/procstat"
	"github.com/computemesh/computemesh/unixfs"
	ipld "github.com/ipfs/go-ipld-format"
)

// What a blockstore on disk holds outlives it: a file added before a
// close reads back after a reopen, with the CID kubo gives it.
func TestBlockstorePersists(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "blocks")
	bs, err := unixfs.OpenBlockstore(dir)
	if err != nil {
		t.Fatal(err)
	}
	b := kubofixture.Files()["chunk1.bin"]
	c, _, err := unixfs.New(bs).AddFile(t.Context(), bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if want := loadKubo(t).Files["chunk1.bin"]; c.String() != want {
		t.Fatalf("CID %s, kubo %s", c, want)
	}
	if err := bs.Close(); err != nil {
		t.Fatal(err)
	}
	bs, err = unixfs.OpenBlockstore(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bs.Close() })
	r, err := unixfs.New(bs).Open(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, b) {
		t.Fatalf("read back after a reopen: %d bytes, %v", len(got), err)
	}
}

// A block changed on disk behind the store's back is never returned: it is
// dropped and reported not found (so the DAG's readers fail, and an
// exchange would fetch it again), and adding the same bytes again repairs
// it.
func TestBlockstoreDropsDamagedBlocks(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "blocks")
	bs, err := unixfs.OpenBlockstore(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bs.Close() })
	d := unixfs.New(bs)
	const original = "the original bytes"
	c, _, err := d.AddFile(t.Context(), strings.NewReader(original))
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	err = filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".data") {
			files = append(files, p)
		}
		return err
	})
	if err != nil || len(files) != 1 {
		t.Fatalf("%d block files (%v), want 1", len(files), err)
	}
	if err := os.WriteFile(files[0], []byte("the changed bytes!"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := bs.GetSize(t.Context(), c); !ipld.IsNotFound(err) {
		t.Fatalf("the size of a changed block: %v, want not found", err)
	}
	if r, err := d.Open(t.Context(), c); err == nil {
		b, rerr := io.ReadAll(r)
		t.Fatalf("a changed block read as %q (%v)", b, rerr)
	}
	if ok, err := bs.Has(t.Context(), c); ok || err != nil {
		t.Fatalf("the changed block is still held (%v)", err)
	}
	if _, _, err := d.AddFile(t.Context(), strings.NewReader(original)); err != nil {
		t.Fatal(err)
	}
	blk, err := bs.Get(t.Context(), c)
	if err != nil || string(blk.RawData()) != original {
		t.Fatalf("after adding the bytes again: %v", err)
	}
}

// BenchmarkLargeFile adds a file of UNIXFS_BENCH_MIB MiB (default 256)
// to a blockstore on disk from a stream that is never whole in memory,
// then exports it to a file, and reports each way's MB/s and the most the
// process's RSS grew over what it held before (sampled every 10 ms).
func BenchmarkLargeFile(b *testing.B) {
	size := benchSize(b)
	mib := size >> 20
	for range b.N {
		dir := b.TempDir()
		bs, err := unixfs.OpenBlockstore(filepath.Join(dir, "blocks"))
		if err != nil {
			b.Fatal(err)
		}
		d := unixfs.New(bs)
		peak := watchRSS()
		t0 := time.Now()
		src := &stream{n: size}
		c, n, err := d.AddFile(b.Context(), src)
		if err != nil || n != size {
			b.Fatalf("add: %d bytes, %v", n, err)
		}
		add := time.Since(t0)
		t1 := time.Now()
		out := filepath.Join(dir, "out")
		if err := d.Export(b.Context(), c, out, unixfs.Limits{Bytes: size, Entries: 1, Depth: 1}); err != nil {
			b.Fatal(err)
		}
		export := time.Since(t1)
		grew := peak()
		if got := fileDigest(b, out); got != src.digest() {
			b.Fatal("the exported file differs from the stream added")
		}
		bs.Close()
		b.ReportMetric(float64(size)/add.Seconds()/1e6, "add-MB/s")
		b.ReportMetric(float64(size)/export.Seconds()/1e6, "export-MB/s")
		b.ReportMetric(float64(grew)/(1<<20), "rss-growth-MiB")
		b.Logf("%d MiB as %s: add %v, export %v, RSS grew by at most %.1f MiB", mib, c, add.Round(time.Millisecond), export.Round(time.Millisecond), float64(grew)/(1<<20))
	}
}

// benchSize is UNIXFS_BENCH_MIB MiB, 256 by default.
func benchSize(b *testing.B) int64 {
	mib := 256
	if s := os.Getenv("UNIXFS_BENCH_MIB"); s != "" {
		var err error
		if mib, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	return int64(mib) << 20
}

// stream is n bytes of SHA-256 in counter mode, made as they are read,
// hashed as they go.
type stream struct {
	n, off int64
	buf    []byte
	h      hashState
}

type hashState struct {
	once sync.Once
	w    interface {
		io.Writer
		Sum([]byte) []byte
	}
}

func (s *stream) Read(p []byte) (int, error) {
	s.h.once.Do(func() { s.h.w = sha256.New() })
	if s.off >= s.n {
		return 0, io.EOF
	}
	k := 0
	for k < len(p) && s.off < s.n {
		if len(s.buf) == 0 {
			var in [8]byte
			binary.BigEndian.PutUint64(in[:], uint64(s.off/sha256.Size))
			sum := sha256.Sum256(in[:])
			s.buf = sum[:]
		}
		m := copy(p[k:], s.buf[:min(int64(len(s.buf)), s.n-s.off)])
		s.buf, k, s.off = s.buf[m:], k+m, s.off+int64(m)
	}
	s.h.w.Write(p[:k])
	return k, nil
}

func (s *stream) digest() string { return fmt.Sprintf("%x", s.h.w.Sum(nil)) }

func fileDigest(b *testing.B, p string) string {
	f, err := os.Open(p)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		b.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// watchRSS samples the process's RSS every 10 ms until the returned
// function is called, which returns the most it grew over the first
// sample.
func watchRSS() func() int64 {
	base := int64(procstat.RSS())
	var most atomic.Int64
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if g := int64(procstat.RSS()) - base; g > most.Load() {
					most.Store(g)
				}
			}
		}
	}()
	return func() int64 {
		close(done)
		<-stopped
		return most.Load()
	}
}
