package node

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/market"
)

// A job with no feasible provider waits, saying why, and is placed as soon
// as one joins; without a provider it ends unscheduled at its deadline.
func TestWaitsForAProviderUntilDeadline(t *testing.T) {
	t.Parallel()
	client, provs := meshOf(t, "test-wait",
		Config{Region: "us-east", Rates: job.Rates{CPUHour: job.Nano}, Capacity: job.Resources{CPUMillis: 2000, MemoryBytes: 1 << 30}})

	// No provider in the EU yet: the job waits; one joins; the job runs there.
	sub := helloSpec(t, func(s *job.Spec) { s.Region = "eu-*" })
	sub.BidWindow = time.Second
	sub.Deadline = time.Now().Add(90 * time.Second)
	var joined sync.Once
	var waits atomic.Int32
	var eu *Node
	joinedCh := make(chan struct{})
	out := submit(t, client, sub, func(e job.Event) {
		if e.Kind != job.EventWaiting {
			return
		}
		waits.Add(1)
		if !strings.Contains(e.Message, "no bids") || !strings.Contains(e.Message, "declined: region") {
			t.Errorf("waiting event %q: want the reason (no bids, declined: region)", e.Message)
		}
		joined.Do(func() {
			go func() {
				defer close(joinedCh)
				n, err := New(context.Background(), Config{
					Mode: ModeProvider, Network: "test-wait", Region: "eu-west", Rates: job.Rates{CPUHour: 3 * job.Nano},
					Capacity: job.Resources{CPUMillis: 2000, MemoryBytes: 1 << 30}, Hardware: testHardware(t),
					Bootstrap: []string{provs[0].Mesh().Addrs()[0].String()},
				})
				if err != nil {
					t.Error(err)
					return
				}
				t.Cleanup(func() { n.Close() })
				eu = n
			}()
		})
	})
	<-joinedCh
	if out.State != job.StateCompleted || eu == nil || out.Provider != eu.ID().String() {
		t.Fatalf("state %s on %s (%s); want completed on the EU provider that joined", out.State, out.Provider, out.Error)
	}
	if waits.Load() == 0 {
		t.Fatal("no waiting event before the job was placed")
	}

	// Nobody will ever match: it waits, then ends unscheduled at the deadline.
	sub = helloSpec(t, func(s *job.Spec) { s.Region = "mars-*" })
	sub.BidWindow = 500 * time.Millisecond
	sub.Deadline = time.Now().Add(3 * time.Second)
	out = submit(t, client, sub, nil)
	if out.State != job.StateUnscheduled || !strings.Contains(out.Error, "waited until the deadline") {
		t.Fatalf("state %s, error %q; want unscheduled after waiting until the deadline", out.State, out.Error)
	}
}

// A full provider with a queue bids with a queue position; awarded jobs wait
// there and run one at a time; nothing runs beyond the capacity.
func TestQueuedBidsRunInTurn(t *testing.T) {
	t.Parallel()
	client, provs := meshOf(t, "test-queue",
		Config{Region: "eu-west", Rates: job.Rates{CPUHour: job.Nano}, Capacity: job.Resources{CPUMillis: 1000, MemoryBytes: 1 << 30}, Queue: 4})
	var peak atomic.Int32
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
			if r := int32(provs[0].provider.Reservations().Running()); r > peak.Load() {
				peak.Store(r)
			}
		}
	}()
	var queued atomic.Int32
	var wg sync.WaitGroup
	outs := make([]*job.Outcome, 3)
	for i := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sub := guestSpec(t, "sleep", "500ms")
			sub.BidWindow = 3 * time.Second
			outs[i] = submit(t, client, sub, func(e job.Event) {
				if e.Kind == job.EventQueued {
					queued.Add(1)
				}
			})
		}()
	}
	wg.Wait()
	for i, o := range outs {
		if o.State != job.StateCompleted {
			t.Errorf("job %d: state %s: %s", i, o.State, o.Error)
		}
	}
	if peak.Load() > 1 {
		t.Errorf("the provider ran %d jobs at once, capacity 1", peak.Load())
	}
	if queued.Load() == 0 {
		t.Errorf("no job was queued, though 3 arrived at once for one slot")
	}
}

// Replicas: a deterministic job on 3 providers agrees and pays all three;
// a provider whose output differs is reported in the minority and loses reputation.
func TestReplicasMajority(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("prlimit"); err != nil {
		t.Skip("prlimit (util-linux) is not installed: the exec executor is not offered")
	}
	small := job.Resources{CPUMillis: 2000, MemoryBytes: 1 << 30}
	execCfg := func(rate job.Credits, dir string) Config {
		return Config{Region: "eu-west", Rates: job.Rates{CPUHour: rate}, Capacity: small, DataDir: dir,
			Executors: []string{job.ExecutorWASM, job.ExecutorExec}, ExecAllow: []string{"/bin/sh"}}
	}
	client, provs := meshOf(t, "test-replicas",
		execCfg(job.Nano, filepath.Join(t.TempDir(), "honest-a")),
		execCfg(2*job.Nano, filepath.Join(t.TempDir(), "faulty")),
		execCfg(3*job.Nano, filepath.Join(t.TempDir(), "honest-b")))

	sub := helloSpec(t, func(s *job.Spec) { s.Replicas, s.Deterministic = 3, true })
	out := submit(t, client, sub, nil)
	if out.State != job.StateCompleted || len(out.Replicas) != 3 || len(out.Minority) != 0 {
		t.Fatalf("deterministic replicas: state %s (%s), replicas %+v, minority %v", out.State, out.Error, out.Replicas, out.Minority)
	}
	var sum job.Credits
	for _, r := range out.Replicas {
		sum += r.Charge
	}
	if out.Charge != sum || !strings.Contains(string(out.Stdout), "hello from computemesh") {
		t.Fatalf("charge %d, want the sum %d; stdout %q", out.Charge, sum, out.Stdout)
	}

	// The faulty provider (its data dir says so) answers differently.
	spec := &job.Spec{
		Executor: job.ExecutorExec, Command: "/bin/sh", Name: "sh",
		Args:      []string{"-c", `case "$COMPUTEMESH_OUTPUTS" in *faulty*) echo 41;; *) echo 42;; esac`},
		Resources: job.Resources{CPUMillis: 1000, MemoryBytes: 256 << 20}, TimeoutMS: 30_000, Policy: job.PolicyCost,
		Replicas: 3,
	}
	out = submit(t, client, Submission{Spec: spec, BidWindow: 5 * time.Second}, nil)
	if out.State != job.StateCompleted || strings.TrimSpace(string(out.Stdout)) != "42" {
		t.Fatalf("state %s (%s), stdout %q; want the majority's 42", out.State, out.Error, out.Stdout)
	}
	if len(out.Minority) != 1 || out.Minority[0] != provs[1].ID().String() {
		t.Fatalf("minority %v, want the faulty provider %s", out.Minority, provs[1].ID())
	}
	for _, r := range out.Replicas {
		if r.Majority == (r.Provider == provs[1].ID().String()) {
			t.Errorf("replica %+v: majority flag wrong", r)
		}
	}

	// The mismatch costs the faulty provider reputation in the client's
	// view, and --min-reputation then leaves it out, saying why.
	faulty, _ := client.client.Score(provs[1].ID().String())
	honest, _ := client.client.Score(provs[0].ID().String())
	if !(faulty < 0.5 && honest > 0.6) {
		t.Fatalf("scores: faulty %.2f, honest %.2f; want the faulty one below a newcomer's 0.5, the honest above 0.6", faulty, honest)
	}
	var rejected string
	out = submit(t, client, helloSpec(t, func(s *job.Spec) { s.MinReputation = 0.6 }), func(e job.Event) {
		if e.Kind == job.EventRejected && e.Provider == provs[1].ID().String() {
			rejected = e.Message
		}
	})
	if out.State != job.StateCompleted || out.Provider == provs[1].ID().String() || !strings.Contains(rejected, "reputation") {
		t.Fatalf("min reputation 0.6: state %s on %s; the faulty provider's rejection: %q", out.State, out.Provider, rejected)
	}
}

// Second-price: the cheapest wins and is paid up to the runner-up's price;
// not-regions keep a job out of a region however cheap it is there.
func TestSecondPriceAndNotRegions(t *testing.T) {
	t.Parallel()
	small := job.Resources{CPUMillis: 2000, MemoryBytes: 1 << 30}
	client, provs := meshOf(t, "test-auction",
		Config{Region: "us-east", Rates: job.Rates{CPUHour: job.Nano}, Capacity: small},
		Config{Region: "eu-west", Rates: job.Rates{CPUHour: 3 * job.Nano}, Capacity: small},
		Config{Region: "eu-central", Rates: job.Rates{CPUHour: 5 * job.Nano}, Capacity: small})

	out := submit(t, client, helloSpec(t, func(s *job.Spec) { s.Auction = job.AuctionSecondPrice }), nil)
	if out.State != job.StateCompleted || out.Provider != provs[0].ID().String() || !strings.Contains(out.Reason, "second-price") {
		t.Fatalf("second-price: state %s on %s, reason %q (%s)", out.State, out.Provider, out.Reason, out.Error)
	}
	// The winner is paid up to the runner-up's price (its rates are 3×);
	// its charge is its metered run scaled by that price over its own
	// (market.Scale, unit-tested there), never more than it. Comparing it
	// with a first-price run's charge would compare two run times, which
	// a loaded machine makes differ by more than 3×.
	spec := helloSpec(t, nil).Spec
	runnerUp, err := market.Price(job.Rates{CPUHour: 3 * job.Nano}, spec.Resources, spec.Timeout())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.Reason, "paid up to the runner-up's "+runnerUp.String()) || out.Charge <= 0 || out.Charge > runnerUp {
		t.Fatalf("second-price: charge %d, reason %q: want paid up to the runner-up's price %s, charged within it", out.Charge, out.Reason, runnerUp)
	}
	first := submit(t, client, helloSpec(t, nil), nil)
	if first.Charge <= 0 || first.Charge > first.Price || strings.Contains(first.Reason, "second-price") {
		t.Fatalf("first-price: charge %d, price %d, reason %q: want charged within its own price", first.Charge, first.Price, first.Reason)
	}
	// The provider books its earnings just after sending the result.
	for deadline := time.Now().Add(30 * time.Second); provs[0].session.snapshot().Earned != out.Charge+first.Charge; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the provider earned %d, the client paid %d + %d", provs[0].session.snapshot().Earned, out.Charge, first.Charge)
		}
	}

	out = submit(t, client, helloSpec(t, func(s *job.Spec) { s.NotRegions = []string{"us-*"} }), nil)
	if out.State != job.StateCompleted || out.Provider != provs[1].ID().String() {
		t.Fatalf("not-regions us-*: state %s on %s (%s); want the cheapest outside us-*", out.State, out.Provider, out.Error)
	}
	if out.Declines == 0 {
		t.Fatalf("the us-east provider should have declined (region): %d declines", out.Declines)
	}

	// The bids heard give the going CPU rate: 1, 3 and 5 credits per
	// core-hour.
	rates := client.Market(time.Hour)
	if len(rates) != 1 || rates[0].Class != MarketCPU || rates[0].Providers != 3 || rates[0].Median != 3*job.Nano {
		t.Fatalf("market %+v: want the CPU class, 3 providers, median 3 credits/h", rates)
	}
}

// GPU jobs gossip on their own topic: a CPU-only provider never hears them
// (no decline from it), a GPU provider does, and both hear CPU jobs.
func TestJobClassesSplitTopics(t *testing.T) {
	t.Parallel()
	small := job.Resources{CPUMillis: 2000, MemoryBytes: 1 << 30}
	h100 := job.GPU{Vendor: "nvidia", Model: "NVIDIA H100 80GB HBM3", VRAMBytes: 80 << 30}
	client, provs := meshOf(t, "test-classes",
		Config{Region: "eu-west", Rates: job.Rates{CPUHour: job.Nano}, Capacity: small},
		Config{Region: "eu-west", Rates: job.Rates{CPUHour: 2 * job.Nano, GPUHour: job.Nano}, Capacity: small,
			Simulated: &Simulated{GPUs: []job.GPU{h100}}})
	gpu := submit(t, client, helloSpec(t, func(s *job.Spec) { s.Resources.GPUs, s.Resources.GPUModel = 1, "h100" }), nil)
	if gpu.State != job.StateCompleted || gpu.Provider != provs[1].ID().String() || gpu.Bids != 1 || gpu.Declines != 0 {
		t.Fatalf("GPU job: state %s on %s, %d bids, %d declines (%s); want the GPU provider's bid alone", gpu.State, gpu.Provider, gpu.Bids, gpu.Declines, gpu.Error)
	}
	cpu := submit(t, client, helloSpec(t, nil), nil)
	if cpu.State != job.StateCompleted || cpu.Provider != provs[0].ID().String() || cpu.Bids != 2 {
		t.Fatalf("CPU job: state %s on %s, %d bids (%s); want both bidding, the cheaper winning", cpu.State, cpu.Provider, cpu.Bids, cpu.Error)
	}
}

// A job's reserved disk bounds its outputs (and is priced by the storage
// rate): within it the outputs come back, beyond it the provider drops
// them and charges the run for its time.
func TestDiskBoundsOutputs(t *testing.T) {
	t.Parallel()
	small := job.Resources{CPUMillis: 2000, MemoryBytes: 1 << 30}
	client, _ := meshOf(t, "test-disk",
		Config{Region: "eu-west", Rates: job.Rates{CPUHour: job.Nano, StorageGiBHour: job.Nano}, Capacity: small})
	fits := guestSpec(t, "write", "/outputs/out.txt")
	fits.Spec.Resources.DiskBytes = 1 << 20
	out := submit(t, client, fits, nil)
	if out.State != job.StateCompleted || out.Outputs == "" {
		t.Fatalf("outputs within the disk: state %s, outputs %q: %s", out.State, out.Outputs, out.Error)
	}
	over := guestSpec(t, "write", "/outputs/out.txt")
	over.Spec.Resources.DiskBytes = 8 // "written by guest" is 16 bytes
	out = submit(t, client, over, nil)
	if out.State != job.StateFailed || !strings.Contains(out.Error, "disk limit exceeded") || out.Outputs != "" || out.Charge <= 0 {
		t.Fatalf("outputs over the disk: state %s: %q, outputs %q, charge %s; want failed for its disk, charged, no outputs",
			out.State, out.Error, out.Outputs, out.Charge)
	}
}
