package node

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"testing"
	"time"
)

// BenchmarkScale is the scale run of scale_test.go at 100, 250 and 500
// whole nodes in one process, real libp2p hosts over internal/memnet's
// in-memory transport (SCALE_NET=mocknet: libp2p's mocknet instead; issue
// #15, docs/BENCHMARKS.md):
// a tenth of them clients, two of those watching (a look-up every half
// second between them); the last fifth are providers that join the formed
// mesh one a second, each announcement timed until a watcher holds its
// verified record; then 10 tiny jobs, 2 at a time, from the clients that do
// not watch. One op is the whole run: use
// -benchtime 1x.
//
// Reported: found-2s-% (announcements of joiners found within 2 s),
// found-p50-ms and found-p99-ms, build-s (the mesh but its joiners started
// and announced), heap-MiB/node and rss-MiB/node (after the joiners,
// watchers stopped, over what the process held before the first host),
// jobs-done and job-p50-ms.
func BenchmarkScale(b *testing.B) {
	for _, n := range []int{100, 250, 500} {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			spec := scaleSpec{nodes: n, clients: n / 10, watchers: 2, joiners: n / 5, joinEvery: time.Second,
				jobs: 10, parallel: 2, findWait: 2 * time.Minute}
			for range b.N {
				benchScale(b, spec)
			}
		})
	}
}

func benchScale(b *testing.B, spec scaleSpec) {
	s := newScaleNet(b, spec)
	s.verbose = true
	start, cpu0 := time.Now(), cpuTime()
	s.build(b)
	built, cpu1 := time.Since(start), cpuTime()
	b.Logf("%d nodes: hosts: heap %.0f MiB, RSS %.0f MiB; the mesh but its %d joiners started and announced in %v (%.0f CPU-s; load average %s)",
		spec.nodes, mib(s.mem1.heap, s.mem0.heap), mib(s.mem1.rss, s.mem0.rss), spec.joiners, built.Round(time.Second), (cpu1 - cpu0).Seconds(), loadAvg())
	c0, most0, opened0 := s.conns()
	s.progress("connections a node: %.0f (most %d); %d opened", c0, most0, opened0)
	jstart := time.Now()
	stopProfile := profileJoin(b)
	joined := s.join(b)
	stopProfile()
	b.Logf("joined in %v (%.0f CPU-s; load average %s)", time.Since(jstart).Round(time.Second), (cpuTime() - cpu1).Seconds(), loadAvg())
	c1, most1, opened1 := s.conns()
	s.progress("joined in %v (%.0f CPU-s; load average %s); connections a node: %.0f (most %d); %d opened while joining",
		time.Since(jstart).Round(time.Second), (cpuTime() - cpu1).Seconds(), loadAvg(), c1, most1, opened1-opened0)
	mem := sampleMem()
	f := s.watch.report(s.providers(), joined)
	b.Logf("%s", f)
	s.progress("%s", f) // now: the benchmark's log comes out after its 500 nodes have closed
	perNode := func(x, x0 uint64) float64 { return mib(x, x0) / float64(spec.nodes) }
	b.Logf("memory: heap %.0f MiB, RSS %.0f MiB in all (%.2f and %.2f MiB a node); %d goroutines (%.0f a node)",
		mib(mem.heap, s.mem0.heap), mib(mem.rss, s.mem0.rss), perNode(mem.heap, s.mem0.heap), perNode(mem.rss, s.mem0.rss),
		mem.goroutines, float64(mem.goroutines-s.mem0.goroutines)/float64(spec.nodes))
	s.progress("memory: %.2f MiB of heap and %.2f MiB of RSS a node; %.0f goroutines a node", perNode(mem.heap, s.mem0.heap), perNode(mem.rss, s.mem0.rss),
		float64(mem.goroutines-s.mem0.goroutines)/float64(spec.nodes))
	jstart, cpu2 := time.Now(), cpuTime()
	res := s.submit(b)
	b.Logf("jobs: %d of %d completed in %v (%.0f CPU-s; load average %s); took %v; auction %v; candidates %v; bids %v; failures %v",
		res.completed, res.submitted, time.Since(jstart).Round(time.Millisecond), (cpuTime() - cpu2).Seconds(), loadAvg(), res.took, res.auction, res.candidates, res.bids, res.failed)
	s.progress("jobs: %d of %d completed; failures %v", res.completed, res.submitted, res.failed)
	var rejected, overRate, unfunded, direct, gossiped, samples, shed, refused, unconnected int64
	for _, n := range s.nodes {
		d, c := n.Mesh().Drops(), n.Mesh().BidCounts()
		rejected, overRate, unfunded = rejected+d.Total(), overRate+d.OverRate.Load(), unfunded+d.Unfunded.Load()
		direct, gossiped, samples, shed, refused, unconnected = direct+c.Direct.Load(), gossiped+c.Gossiped.Load(), samples+c.Samples.Load(), shed+c.Shed.Load(), refused+c.Refused.Load(), unconnected+c.Unconnected.Load()
	}
	b.Logf("summed over the nodes: gossip refused %d, over its author's rate %d, unfunded %d; bids sent direct %d (%d of them gossiped besides as market samples), gossiped %d, shed %d (to clients refusing the bid protocol %d, to clients not connected that asked for no gossip %d)",
		rejected, overRate, unfunded, direct, samples, gossiped, shed, refused, unconnected)
	s.progress("gossip refused %d, over rate %d, unfunded %d; bids direct %d (samples %d), gossiped %d, shed %d (refused %d, unconnected %d)", rejected, overRate, unfunded, direct, samples, gossiped, shed, refused, unconnected)
	b.ReportMetric(100*float64(f.joined.within(2*time.Second))/float64(max(1, f.joined.n())), "found-2s-%")
	b.ReportMetric(ms(quantile(f.joined.d, 0.5)), "found-p50-ms")
	b.ReportMetric(ms(quantile(f.joined.d, 0.99)), "found-p99-ms")
	b.ReportMetric(built.Seconds(), "build-s")
	b.ReportMetric(perNode(mem.heap, s.mem0.heap), "heap-MiB/node")
	b.ReportMetric(perNode(mem.rss, s.mem0.rss), "rss-MiB/node")
	b.ReportMetric(float64(res.completed), "jobs-done")
	b.ReportMetric(ms(quantile(res.took, 0.5)), "job-p50-ms")
}

// mib is x − x0 bytes in MiB.
func mib(x, x0 uint64) float64 { return (float64(x) - float64(x0)) / (1 << 20) }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// quantile is the q-quantile of ds (0 for none).
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

// profileJoin writes a CPU profile of the joiners' phase, and goroutine
// and heap profiles at its end, to $SCALE_PROFILE_DIR when it is set (the
// steady state of a formed mesh, which -cpuprofile mixes with its build).
func profileJoin(b *testing.B) (stop func()) {
	dir := os.Getenv("SCALE_PROFILE_DIR")
	if dir == "" {
		return func() {}
	}
	f, err := os.Create(filepath.Join(dir, "join-cpu.prof"))
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
		for _, name := range []string{"goroutine", "heap"} {
			if g, err := os.Create(filepath.Join(dir, "join-"+name+".prof")); err == nil {
				_ = pprof.Lookup(name).WriteTo(g, 0)
				_ = g.Close()
			}
		}
	}
}
