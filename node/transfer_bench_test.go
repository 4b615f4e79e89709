package node

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/computemesh/computemesh/content"
	"github.com/computemesh/computemesh/internal/procstat"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/mesh"
	"github.com/computemesh/computemesh/store"
	"github.com/libp2p/go-libp2p/core/peer"
)

// BenchmarkDAGTransfer measures a job's data path between two peers on
// 127.0.0.1 as the node wires it (issue #17, docs/BENCHMARKS.md): a file
// of TRANSFER_BENCH_MIB MiB (256 by default) added as UnixFS to one
// store, fetched block by block over the mesh's blob protocol into the
// other (content.Fetch: only granted blocks served, each checked against
// its CID, disk to disk, synced), then exported to a file; the process's
// RSS is sampled every 10 ms and its rise over the start reported.
func BenchmarkDAGTransfer(b *testing.B) {
	mib := 256
	if v := os.Getenv("TRANSFER_BENCH_MIB"); v != "" {
		mib, _ = strconv.Atoi(v)
	}
	for _, tr := range []string{"tcp", "quic"} {
		b.Run(fmt.Sprintf("%s/%dMiB", tr, mib), func(b *testing.B) {
			benchDAGTransfer(b, tr, int64(mib)<<20)
		})
	}
}

func benchDAGTransfer(b *testing.B, transport string, size int64) {
	ctx := context.Background()
	listen := "/ip4/127.0.0.1/tcp/0"
	if transport == "quic" {
		listen = "/ip4/127.0.0.1/udp/0/quic-v1"
	}
	newSide := func() (*mesh.Mesh, *content.Content) {
		m, err := mesh.New(ctx, mesh.Network("test-bench"), mesh.Listen(listen))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { m.Close() })
		s, err := store.Open(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		c := content.New(s, m)
		m.ServeBlobs(func(id string) ([]byte, func(), bool) {
			cid, err := job.ParseCID(id)
			if err != nil {
				return nil, nil, false
			}
			blob, err := s.Load(cid) // as the node serves them (without its buffers)
			return blob, nil, err == nil
		}, c.Granted)
		return m, c
	}
	srcMesh, src := newSide()
	dstMesh, dst := newSide()
	if err := dstMesh.Connect(ctx, peer.AddrInfo{ID: srcMesh.ID(), Addrs: srcMesh.Host().Addrs()}); err != nil {
		b.Fatal(err)
	}
	file := filepath.Join(b.TempDir(), "data.bin")
	f, err := os.Create(file)
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(uint64(size), 17))
	if _, err := io.CopyN(f, randReader{r}, size); err != nil {
		b.Fatal(err)
	}
	f.Close()

	riseRSS := peakRSS()
	start := time.Now()
	root, err := src.Add(ctx, file)
	if err != nil {
		b.Fatal(err)
	}
	added := time.Since(start)
	st, err := src.Stat(ctx, root, content.InputsBudget())
	if err != nil {
		b.Fatal(err)
	}
	var blocks []string
	for _, c := range st.Blocks {
		blocks = append(blocks, c.String())
	}
	src.Grant(dstMesh.ID(), time.Now().Add(time.Hour), blocks...)
	b.ResetTimer()
	start = time.Now()
	budget := content.OutputsBudget(uint64(size) + 1<<20)
	if err := dst.Fetch(ctx, srcMesh.ID(), root.String(), budget); err != nil {
		b.Fatal(err)
	}
	fetched := time.Since(start)
	b.StopTimer()
	start = time.Now()
	if err := dst.Export(ctx, root, filepath.Join(b.TempDir(), "out.bin"), content.OutputsBudget(uint64(size)+1<<20)); err != nil {
		b.Fatal(err)
	}
	exported := time.Since(start)
	rise := riseRSS()
	rate := func(d time.Duration) float64 { return float64(size) / d.Seconds() / 1e6 }
	b.Logf("%s, %d MiB in %d blocks: add %v (%.0f MB/s), fetch %v (%.0f MB/s), export %v (%.0f MB/s); RSS at most %.1f MiB above the start",
		transport, size>>20, len(st.Blocks), added.Round(time.Millisecond), rate(added), fetched.Round(time.Millisecond), rate(fetched),
		exported.Round(time.Millisecond), rate(exported), rise)
	b.ReportMetric(rate(fetched), "fetch-MB/s")
	b.ReportMetric(rise, "rss-rise-MiB")
}

// randReader reads pseudo-random bytes.
type randReader struct{ r *rand.Rand }

func (r randReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r.r.Uint32())
	}
	return len(p), nil
}

// BenchmarkBigJob is a job's whole data path as a user takes it (issue
// #17): a file of BIGJOB_MIB MiB (2048 by default) added to the client's
// store, a WASM job that copies its inputs to its outputs on a provider
// (inputs staged block by block, outputs collected and imported), the
// outputs fetched back and exported; the process's RSS (client and
// provider together) sampled every 10 ms, its most above the start.
func BenchmarkBigJob(b *testing.B) {
	mib := 2048
	if v := os.Getenv("BIGJOB_MIB"); v != "" {
		mib, _ = strconv.Atoi(v)
	}
	size := int64(mib) << 20
	client, _ := meshOf(b, "test-bigjob", Config{Region: "eu-west", Rates: job.Rates{CPUHour: job.Nano},
		Capacity: job.Resources{CPUMillis: 1000, MemoryBytes: 1 << 30}})
	dir := filepath.Join(b.TempDir(), "in")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "data.bin"))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.CopyN(f, randReader{rand.New(rand.NewPCG(uint64(size), 3))}, size); err != nil {
		b.Fatal(err)
	}
	f.Close()
	riseRSS := peakRSS()
	start := time.Now()
	in, err := client.content.Add(context.Background(), dir)
	if err != nil {
		b.Fatal(err)
	}
	added := time.Since(start)
	sub := guestSpec(b, "copy")
	sub.Spec.Inputs = []job.Input{{Name: "in", CID: in.String()}}
	sub.Spec.Resources.DiskBytes = uint64(size) + 64<<20
	sub.Spec.TimeoutMS = (20 * time.Minute).Milliseconds()
	b.ResetTimer()
	start = time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	out, err := client.Submit(ctx, sub, nil)
	if err != nil || out.State != job.StateCompleted {
		b.Fatalf("the job: %v, %+v", err, out)
	}
	ran := time.Since(start)
	b.StopTimer()
	start = time.Now()
	if err := client.content.Export(ctx, mustCID(b, out.Outputs), filepath.Join(b.TempDir(), "out"), content.OutputsBudget(uint64(size)+64<<20)); err != nil {
		b.Fatal(err)
	}
	exported := time.Since(start)
	rise := riseRSS()
	b.Logf("%d MiB: add %v, submit → outputs fetched %v (run %v), export %v; RSS at most %.1f MiB above the start (client and provider together)",
		mib, added.Round(time.Millisecond), ran.Round(time.Millisecond), time.Duration(out.Timings.Run)*time.Millisecond, exported.Round(time.Millisecond), rise)
	b.ReportMetric(rise, "rss-rise-MiB")
}

// peakRSS samples the process's RSS every 10 ms until the returned func is
// called, which returns its most above what it was at the start, in MiB.
func peakRSS() func() float64 {
	var peak atomic.Uint64
	rss0 := procstat.RSS()
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			peak.Store(max(peak.Load(), procstat.RSS()))
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	return func() float64 {
		close(stop)
		<-done
		return float64(peak.Load()-min(rss0, peak.Load())) / (1 << 20)
	}
}
