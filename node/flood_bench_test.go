package node

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/computemesh/computemesh/examples/hello"
	"github.com/computemesh/computemesh/internal/procstat"
	"github.com/computemesh/computemesh/job"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// settledMiB collects garbage, returns freed memory to the system and
// reports RSS and live heap.
func settledMiB() (rss, heap float64) {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(procstat.RSS()) / (1 << 20), float64(ms.HeapAlloc) / (1 << 20)
}

// BenchmarkRequestFlood floods a 4-provider mesh (the client, providers and
// flooder in this one process) with 30,000 valid job requests at 600/s, from
// one key (the flooding peer's own: it is connected to every provider and
// takes its bids on a stream, as a client does) or spread over 100 keys
// sent by one peer (one IP), while the client
// submits hello jobs one after another. It reports the hello jobs' p50 when
// quiet and during the flood, and the process's RSS and live heap before
// the flood and once it has stopped and the losing bids' grace and
// GossipSub's memory of seen message IDs have passed (settle). RSS is of the
// whole process: the client, the providers and the flooder's host
// (rss-growth/host divides it among them). See docs/BENCHMARKS.md.
func BenchmarkRequestFlood(b *testing.B) {
	for _, keys := range []int{1, 100} {
		b.Run(fmt.Sprintf("keys=%d", keys), func(b *testing.B) { benchFlood(b, keys) })
	}
}

// settle is how long after a flood the benchmark waits before it reads
// memory: past the losing bids' grace and GossipSub's sweep of seen IDs.
const settle = 80 * time.Second

func benchFlood(b *testing.B, nkeys int) {
	requests := 30_000
	if n, err := strconv.Atoi(os.Getenv("COMPUTEMESH_FLOOD_REQUESTS")); err == nil && n > 0 {
		requests = n // memory after a flood must not depend on its length
	}
	const floodRate = 600 // requests/s: over the per-author rate (500/s)
	client, provs := benchMesh(b)
	sub := benchJob(hello.Module(), "hello.wasm", 1000)
	ctx := context.Background()
	warmUp(b, client, sub, 3)
	// Every provider compiles the module before memory is first read: an
	// honest job may go to any of them during the flood.
	for _, p := range provs {
		spec := *sub.Spec
		spec.Region = p.cfg.Region
		warmUp(b, client, Submission{Module: sub.Module, Spec: &spec}, 1)
	}
	failed := 0
	p50 := func(stop func() bool) (time.Duration, int) {
		var d []time.Duration
		var last time.Time
		for len(d) < 20 || (stop != nil && !stop()) {
			// One honest job every 100 ms at most: what memory keeps
			// afterwards is the flood's, not thousands of honest jobs'.
			time.Sleep(time.Until(last.Add(100 * time.Millisecond)))
			last = time.Now()
			start := time.Now()
			out, err := client.Submit(ctx, sub, nil)
			if err != nil {
				b.Fatal(err)
			}
			if out.State != job.StateCompleted {
				failed++ // counted: a job whose request was lost in the flood
				b.Logf("honest job: %s: %s", out.State, out.Error)
				continue
			}
			d = append(d, time.Since(start))
		}
		slices.Sort(d)
		return d[len(d)/2], len(d)
	}
	f := newFlooder(b, "test", provs)
	type key struct {
		k  crypto.PrivKey
		id peer.ID
	}
	keys := make([]key, nkeys)
	for i := range keys {
		k, _, _ := crypto.GenerateEd25519Key(rand.Reader)
		id, _ := peer.IDFromPrivateKey(k)
		keys[i] = key{k, id}
	}
	spec := benchJob(hello.Module(), "hello.wasm", 1000).Spec
	for b.Loop() {
		quiet, _ := p50(nil)
		rss0, heap0 := settledMiB()
		var wg sync.WaitGroup
		var flooding sync.Mutex
		flooding.Lock()
		done := false
		wg.Add(1)
		start := time.Now()
		go func() {
			defer wg.Done()
			tick := time.NewTicker(time.Second / floodRate * 10)
			defer tick.Stop()
			for i := range requests {
				if i%10 == 0 {
					<-tick.C
				}
				// One key: the flooding peer's own, a client connected to
				// every provider. More: keys of peers that are not there,
				// whose requests one peer (one IP) publishes.
				var err error
				if nkeys == 1 {
					err = f.try(f.h.ID().String(), spec)
				} else {
					k := keys[i%nkeys]
					err = f.try(k.id.String(), spec, pubsub.WithSecretKeyAndPeerId(k.k, k.id))
				}
				if err != nil {
					b.Error(err)
					break
				}
			}
			flooding.Lock()
			done = true
			flooding.Unlock()
		}()
		flooding.Unlock()
		during, n := p50(func() bool { flooding.Lock(); defer flooding.Unlock(); return done })
		wg.Wait()
		floodTime := time.Since(start)
		var peak int
		for _, p := range provs {
			t, _ := p.StandingBids()
			peak = max(peak, t)
		}
		// Memory is read once the losing bids' grace and GossipSub's memory
		// of seen message IDs (seenTTL, swept once a minute) have passed.
		time.Sleep(settle)
		rss1, heap1 := settledMiB()
		if path := os.Getenv("COMPUTEMESH_FLOOD_HEAP"); path != "" { // where the memory is (go tool pprof)
			if f, err := os.Create(path); err == nil {
				_ = pprof.WriteHeapProfile(f)
				f.Close()
			}
		}
		var over, shed, direct, gossiped int64
		for _, p := range provs {
			over += p.Mesh().Drops().OverRate.Load()
			shed += p.provider.Shed() + p.Mesh().BidCounts().Shed.Load()
			direct += p.Mesh().BidCounts().Direct.Load()
			gossiped += p.Mesh().BidCounts().Gossiped.Load()
		}
		b.ReportMetric(float64(quiet)/1e6, "quiet-p50-ms")
		b.ReportMetric(float64(during)/1e6, "flood-p50-ms")
		b.ReportMetric(float64(during)/float64(quiet), "p50-ratio")
		b.ReportMetric(float64(requests)/floodTime.Seconds(), "flood-req/s")
		b.ReportMetric(rss1-rss0, "rss-growth-MiB")
		b.ReportMetric((rss1-rss0)/float64(len(provs)+2), "rss-growth/host-MiB")
		b.ReportMetric(float64(shed)/float64(len(provs)), "shed/provider")
		b.ReportMetric(float64(direct)/float64(len(provs)), "direct-bids/provider")
		b.ReportMetric(float64(gossiped)/float64(len(provs)), "gossiped-bids/provider")
		b.ReportMetric(heap1-heap0, "heap-growth-MiB")
		b.ReportMetric(float64(peak), "peak-standing-bids")
		b.ReportMetric(float64(failed), "honest-failed")
		b.ReportMetric(float64(over)/float64(len(provs)), "ignored/provider")
		b.Logf("%d keys: %d requests in %v; %d honest jobs during it; RSS %.1f → %.1f MiB, heap %.1f → %.1f MiB",
			nkeys, requests, floodTime.Round(time.Millisecond), n, rss0, rss1, heap0, heap1)
	}
}
