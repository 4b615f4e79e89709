package ledger_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/ledger"
)

// Benchmarks of issue #6; the numbers are in docs/BENCHMARKS.md:
//
//	go test -run '^$' -bench . -benchtime 1x ./ledger            (Replay)
//	go test -run '^$' -bench 'Verify|Bytes' ./ledger

// benchPeer names peer i with as many letters and digits as a libp2p
// Ed25519 peer ID (52), so that sizes on disk are realistic.
func benchPeer(kind string, i int) string { return fmt.Sprintf("12D3KooW%s%039d", kind[:5], i) }

// benchReceipt is the i-th of a set of distinct receipts: 1000 payers, each
// numbering its receipts, paying 100 payees.
func benchReceipt(i int) *job.Receipt {
	return &job.Receipt{V: job.Version, Network: testNet, Job: testJob, Attempt: 1 + i%3,
		Payer: benchPeer("payer", i%1000), Payee: benchPeer("payee", i%100), Amount: job.Credits(1 + i%5000),
		Seq: uint64(1 + i/1000), TimeMS: 1_700_000_000_000 + int64(i)}
}

// signAll signs receipts [from, to) on every CPU.
func signAll(k keys, from, to int) []*job.Receipt {
	for p := range 1000 {
		k.key(benchPeer("payer", p))
	}
	for p := range 100 {
		k.key(benchPeer("payee", p))
	}
	out := make([]*job.Receipt, to-from)
	var wg sync.WaitGroup
	w := runtime.GOMAXPROCS(0)
	for c := range w {
		wg.Go(func() {
			for i := from + c; i < to; i += w {
				r := benchReceipt(i)
				k.sign(r) // k is only read now
				out[i-from] = r
			}
		})
	}
	wg.Wait()
	return out
}

// BenchmarkVerifyReceipt: receipts checked per second, Ed25519 signatures
// of payer and payee included.
func BenchmarkVerifyReceipt(b *testing.B) {
	k := keys{}
	rs := signAll(k, 0, 20_000)
	verify := verifier()
	b.Run("signatures", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			r := rs[i%len(rs)]
			sb := r.SigningBytes()
			if verify(r.Payer, sb, r.PayerSig) != nil || verify(r.Payee, sb, r.PayeeSig) != nil {
				b.Fatal("bad signature")
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "receipts/s")
	})
	b.Run("Book.AddReceipt", func(b *testing.B) {
		b.ReportAllocs()
		book := newBook(b)
		for i := 0; b.Loop(); i++ {
			if i > 0 && i%len(rs) == 0 {
				b.StopTimer()
				book = newBook(b)
				b.StartTimer()
			}
			if _, err := book.AddReceipt(rs[i%len(rs)]); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "receipts/s")
	})
}

// writeLog writes a ledger log of the given receipts straight to dir (no
// fsync per record: the file is an input of the benchmark).
func writeLog(b *testing.B, dir string, n int, rec func(i int) *job.Receipt) int64 {
	b.Helper()
	path := filepath.Join(dir, ledger.LogFile)
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.Write(ledger.EncodeRecord('H', []byte(`{"v":1,"network":"`+testNet+`"}`)))
	for i := range n {
		w.Write(ledger.EncodeRecord('R', job.Encode(rec(i))))
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	st, _ := os.Stat(path)
	return st.Size()
}

// BenchmarkReplay: the time Open takes on a log of 1,000,000 receipts,
// trusting its own checksummed log (the default), and with
// WithVerifyOnOpen(true) on 100,000 receipts (two Ed25519 verifications
// each: a million would take minutes; the cost is linear).
func BenchmarkReplay(b *testing.B) {
	trusted, verified := 1_000_000, 100_000
	if n, err := strconv.Atoi(os.Getenv("LEDGER_BENCH_RECEIPTS")); err == nil && n > 0 { // quick runs
		trusted, verified = n, min(n, verified)
	}
	dir := b.TempDir()
	tdir, vdir := filepath.Join(dir, "trusted"), filepath.Join(dir, "verified")
	os.MkdirAll(tdir, 0o700)
	os.MkdirAll(vdir, 0o700)
	fake := bytes.Repeat([]byte{0xa5}, 64) // never looked at by a trusting Open
	start := time.Now()
	size := writeLog(b, tdir, trusted, func(i int) *job.Receipt {
		r := benchReceipt(i)
		r.PayerSig, r.PayeeSig = fake, fake
		return r
	})
	b.Logf("wrote %d receipts, %d bytes (%.0f bytes/receipt) in %v", trusted, size, float64(size)/float64(trusted), time.Since(start))
	rs := signAll(keys{}, 0, verified)
	writeLog(b, vdir, verified, func(i int) *job.Receipt { return rs[i] })
	rs = nil

	run := func(b *testing.B, dir string, n int, extra ...ledger.Option) {
		b.ReportAllocs()
		var l *ledger.Ledger
		for b.Loop() {
			if l != nil {
				l.Close()
			}
			var err error
			if l, err = ledger.Open(dir, append(opts(), extra...)...); err != nil {
				b.Fatal(err)
			}
			if got := l.Stats().Receipts; got != n {
				b.Fatalf("replayed %d receipts, want %d", got, n)
			}
		}
		b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/open")
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/receipt")
		// What the open ledger's book holds in memory.
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapAlloc)/float64(n), "heap-bytes/receipt")
		runtime.KeepAlive(l)
		l.Close()
	}
	b.Run(fmt.Sprintf("trusting/%d", trusted), func(b *testing.B) { run(b, tdir, trusted) })
	b.Run(fmt.Sprintf("verifying/%d", verified), func(b *testing.B) { run(b, vdir, verified, ledger.WithVerifyOnOpen(true)) })
}

// BenchmarkBytesPerReceipt: durable appends (write + fsync each) and the
// bytes each receipt takes in the log.
func BenchmarkBytesPerReceipt(b *testing.B) {
	k := keys{}
	rs := signAll(k, 0, 5000)
	dir := b.TempDir()
	l := openLedger(b, dir)
	path := filepath.Join(dir, ledger.LogFile)
	st0, _ := os.Stat(path)
	n := 0
	for i := 0; b.Loop(); i++ {
		if i > 0 && i%len(rs) == 0 { // a fresh ledger for the next round
			b.StopTimer()
			l.Close()
			dir = b.TempDir()
			path = filepath.Join(dir, ledger.LogFile)
			l = openLedger(b, dir)
			st0, _ = os.Stat(path)
			n = 0
			b.StartTimer()
		}
		if _, err := l.AddReceipt(rs[i%len(rs)]); err != nil {
			b.Fatal(err)
		}
		n++
	}
	st, _ := os.Stat(path)
	b.ReportMetric(float64(st.Size()-st0.Size())/float64(n), "bytes/receipt")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "durable-adds/s")
}
