package node

import (
	"bufio"
	"context"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/computemesh/computemesh/examples/hello"
	"github.com/computemesh/computemesh/examples/tiny"
	"github.com/computemesh/computemesh/executor"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/mesh"
	"github.com/libp2p/go-libp2p/core/network"
)

// The benchmarks below measure submit → result for the hello job on a
// 5-node loopback mesh, beside two floors measured in the same run: wazero
// alone running the module, and one direct libp2p stream request/response
// to a provider that runs it without any auction. See docs/BENCHMARKS.md.

// reportPercentiles adds p50 and p99 in milliseconds to the benchmark output.
func reportPercentiles(b *testing.B, d []time.Duration) {
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	b.ReportMetric(float64(d[len(d)/2])/1e6, "p50-ms")
	b.ReportMetric(float64(d[len(d)*99/100])/1e6, "p99-ms")
}

func benchMesh(b *testing.B) (*Node, []*Node) {
	client, provs := testMeshTB(b, []provSpec{
		{"us-east", "2.0"}, {"eu-west", "0.9"}, {"eu-central", "0.5"}, {"ap-south", "0.7"},
	})
	return client, provs
}

// benchJob is a submission of module with a 10 s timeout and 64 MiB.
func benchJob(mod []byte, name string, cpuMillis int64) Submission {
	return Submission{Module: mod, Spec: &job.Spec{
		Executor: job.ExecutorWASM, Module: job.ModuleCID(mod).String(), Name: name,
		Resources: job.Resources{CPUMillis: cpuMillis, MemoryBytes: 64 << 20}, TimeoutMS: 10_000, Policy: job.PolicyCost,
	}}
}

// warmUp runs sub n times so that the winner has compiled and cached it.
func warmUp(b *testing.B, client *Node, sub Submission, n int) {
	for range n {
		if out, err := client.Submit(context.Background(), sub, nil); err != nil || out.State != job.StateCompleted {
			b.Fatalf("warm-up: %v %+v", err, out)
		}
	}
}

func BenchmarkSubmitHello(b *testing.B) {
	client, _ := benchMesh(b)
	sub := benchJob(hello.Module(), "hello.wasm", 1000)
	ctx := context.Background()
	warmUp(b, client, sub, 3)
	var d, auction, run []time.Duration
	var bids int
	for b.Loop() {
		start := time.Now()
		out, err := client.Submit(ctx, sub, nil)
		if err != nil || out.State != job.StateCompleted {
			b.Fatalf("submit: %v %+v", err, out)
		}
		d = append(d, time.Since(start))
		auction = append(auction, time.Duration(out.Timings.Auction*1e6))
		run = append(run, time.Duration(out.Timings.Run*1e6))
		bids += out.Bids
	}
	reportPercentiles(b, d)
	slices.Sort(auction)
	slices.Sort(run)
	b.ReportMetric(float64(auction[len(auction)/2])/1e6, "auction-p50-ms")
	b.ReportMetric(float64(run[len(run)/2])/1e6, "run-p50-ms")
	b.ReportMetric(float64(bids)/float64(len(d)), "bids/op")
}

func BenchmarkFloorWazero(b *testing.B) {
	ex, err := executor.NewWASM()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ex.Close() })
	mod := hello.Module()
	task := executor.Task{Name: "hello.wasm", Module: mod, ModuleKey: job.ModuleCID(mod).String(), MemoryBytes: 64 << 20, Timeout: 10 * time.Second}
	if _, err := ex.Run(context.Background(), task); err != nil {
		b.Fatal(err)
	}
	var d []time.Duration
	for b.Loop() {
		start := time.Now()
		r, err := ex.Run(context.Background(), task)
		if err != nil || r.ExitCode != 0 {
			b.Fatalf("run: %v %+v", err, r)
		}
		d = append(d, time.Since(start))
	}
	reportPercentiles(b, d)
}

func BenchmarkFloorDirectStream(b *testing.B) {
	ctx := context.Background()
	server, err := mesh.New(ctx, mesh.Network("bench"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { server.Close() })
	client, err := mesh.New(ctx, mesh.Network("bench"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { client.Close() })
	ex, err := executor.NewWASM()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ex.Close() })
	mod := hello.Module()
	key := job.ModuleCID(mod).String()
	proto := server.Protocol("bench-run")
	server.Host().SetStreamHandler(proto, func(s network.Stream) {
		defer s.Close()
		var spec job.Spec
		if err := mesh.ReadMsg(bufio.NewReader(s), job.MaxAwardSize, &spec); err != nil {
			s.Reset()
			return
		}
		r, err := ex.Run(ctx, executor.Task{Name: spec.Name, Module: mod, ModuleKey: key, MemoryBytes: spec.Resources.MemoryBytes, Timeout: spec.Timeout()})
		res := job.Result{Job: key, ExitCode: r.ExitCode, Stdout: r.Stdout}
		if err != nil {
			res.Error = err.Error()
		}
		_ = mesh.WriteMsg(s, job.Reply{Type: job.ReplyResult, Result: &res})
	})
	if err := client.Connect(ctx, server.Host().Peerstore().PeerInfo(server.ID())); err != nil {
		b.Fatal(err)
	}
	spec := job.Spec{
		Executor: job.ExecutorWASM, Module: key, Name: "hello.wasm",
		Resources: job.Resources{CPUMillis: 1000, MemoryBytes: 64 << 20}, TimeoutMS: 10_000, Policy: job.PolicyCost,
	}
	call := func() {
		s, err := client.Host().NewStream(ctx, server.ID(), proto)
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		if err := mesh.WriteMsg(s, &spec); err != nil {
			b.Fatal(err)
		}
		var reply job.Reply
		if err := mesh.ReadMsg(bufio.NewReader(s), job.MaxReplySize, &reply); err != nil {
			b.Fatal(err)
		}
		if reply.Result == nil || reply.Result.ExitCode != 0 {
			b.Fatalf("reply %+v", reply)
		}
	}
	call() // warm: compile
	var d []time.Duration
	for b.Loop() {
		start := time.Now()
		call()
		d = append(d, time.Since(start))
	}
	reportPercentiles(b, d)
}

// BenchmarkSubmitParallel measures throughput: tiny jobs (examples/tiny, a
// 142-byte module) in flight 16 at a time through one client node (jobs/s).
func BenchmarkSubmitParallel(b *testing.B) {
	client, _ := benchMesh(b)
	sub := benchJob(tiny.Module(), "tiny.wasm", 1)
	sub.BidWindow = time.Second
	ctx := context.Background()
	warmUp(b, client, sub, 3)
	b.SetParallelism(8) // × GOMAXPROCS goroutines
	var mu sync.Mutex
	var auction, run []time.Duration
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			out, err := client.Submit(ctx, sub, nil)
			if err != nil || out.State != job.StateCompleted {
				b.Errorf("submit: %v %+v", err, out)
				return
			}
			mu.Lock()
			auction = append(auction, time.Duration(out.Timings.Auction*1e6))
			run = append(run, time.Duration(out.Timings.Run*1e6))
			mu.Unlock()
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "jobs/s")
	slices.Sort(auction)
	slices.Sort(run)
	b.ReportMetric(float64(auction[len(auction)/2])/1e6, "auction-p50-ms")
	b.ReportMetric(float64(run[len(run)/2])/1e6, "run-p50-ms")
}

// BenchmarkMemoryFlat runs b.N jobs and reports how much the live heap of the
// whole process (client and four providers) grew over all of them and over
// the second half alone. What a node remembers per job expires with time
// (seen-message IDs after 15 s plus GossipSub's 1-minute sweep, standing
// bids after the job's timeout plus 30 s), so once b.N is large enough to
// pass those windows, the second half's growth stays near zero: memory is
// flat in the number of jobs.
func BenchmarkMemoryFlat(b *testing.B) {
	client, _ := benchMesh(b)
	sub := benchJob(hello.Module(), "hello.wasm", 1000)
	ctx := context.Background()
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	warmUp(b, client, sub, 50) // caches, connections, pubsub state
	before := heap()
	var half uint64
	b.ResetTimer()
	for i := range b.N {
		if i == b.N/2 {
			b.StopTimer()
			half = heap()
			b.StartTimer()
		}
		if out, err := client.Submit(ctx, sub, nil); err != nil || out.State != job.StateCompleted {
			b.Fatalf("submit: %v %+v", err, out)
		}
	}
	b.StopTimer()
	after := heap()
	if path := os.Getenv("COMPUTEMESH_HEAP_PROFILE"); path != "" {
		// What the nodes retain, before they are closed.
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		_ = pprof.WriteHeapProfile(f)
		f.Close()
	}
	b.ReportMetric(float64(int64(after)-int64(before))/1024, "heap-growth-KiB")
	b.ReportMetric(float64(int64(after)-int64(half))/1024, "2nd-half-growth-KiB")
	b.ReportMetric(float64(after)/(1<<20), "heap-MiB")
}
