package sim

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/computemesh/computemesh/job"
)

// BurstConfig is the burst scenario (issue #15): one client submits a batch
// of identical one-core jobs at once, under the cost policy, to a mesh of
// providers with queues, running at most MaxAuctions auctions at once as
// the real client does. Each variant places the same batch on a fresh
// mesh: the policy alone (cheapest), under a deadline
// (scheduler.MeetsDeadline: bids that would start a job after it are
// rejected), and under a batch's soft wait bound (Policy.MaxWait).
type BurstConfig struct {
	Providers int `json:"providers"`
	// Loads size the batch: load × the mesh's speed-weighted cores jobs,
	// so that at load 1 the whole mesh needs about one run time for it.
	Loads []float64 `json:"loads"`
	// Run is each job's expected run time on the reference machine (the
	// real one is off by a per-job factor, as in the quality runs).
	Run time.Duration `json:"run_ns"`
	// Deadlines and MaxWaits are the variants besides the cheapest, each
	// counted from the batch's submission.
	Deadlines   []time.Duration `json:"deadlines_ns"`
	MaxWaits    []time.Duration `json:"max_waits_ns"`
	MaxQueue    int             `json:"max_queue"`
	MaxAuctions int             `json:"max_auctions"`
	Window      time.Duration   `json:"window_ns"`
	Backoff     time.Duration   `json:"backoff_ns"`
	Seed        uint64          `json:"seed"`
}

// DefaultBurstConfig is the scenario of docs/BENCHMARKS.md: 20 providers
// around the world, queues of 64 (the testnet's), one-minute jobs,
// batches of half to four times the mesh's cores, a bid window of 1 s so
// that every provider's answer arrives in time (with the client's default
// 250 ms, only the nearer ones do: a batch then spreads over those alone
// unless a round fails and doubles its window), the client's backoff.
func DefaultBurstConfig() BurstConfig {
	return BurstConfig{
		Providers: 20, Loads: []float64{0.5, 1, 2, 4}, Run: time.Minute,
		Deadlines: []time.Duration{2 * time.Minute, 5 * time.Minute}, MaxWaits: []time.Duration{5 * time.Second},
		MaxQueue: 64, MaxAuctions: 32, Window: time.Second, Backoff: 500 * time.Millisecond, Seed: 1,
	}
}

// Validate checks c's fields.
func (c *BurstConfig) Validate() error {
	switch {
	case c.Providers < 1 || c.Providers > 10_000:
		return fmt.Errorf("providers: %d is out of range (1 to 10000)", c.Providers)
	case len(c.Loads) == 0:
		return fmt.Errorf("loads: none given")
	case c.Run < time.Second || c.Run > time.Hour:
		return fmt.Errorf("run: %v is out of range (1s to 1h)", c.Run)
	case c.MaxQueue < 0 || c.MaxAuctions < 0 || c.Window <= 0 || c.Backoff <= 0:
		return fmt.Errorf("max_queue, max_auctions, window, backoff: window and backoff must be positive, the others not negative")
	}
	for i, l := range c.Loads {
		if !(l > 0 && l <= 16) {
			return fmt.Errorf("loads[%d]: %g is out of range (0 to 16]", i, l)
		}
	}
	for i, d := range slices.Concat(c.Deadlines, c.MaxWaits) {
		if d <= 0 {
			return fmt.Errorf("deadlines and max waits: item %d, %v, is not positive", i+1, d)
		}
	}
	return nil
}

// A burst variant: how the batch's jobs are placed.
const (
	VariantCheapest = "cheapest"
	VariantDeadline = "deadline"
	VariantMaxWait  = "max-wait"
)

// BurstResult is one variant's figures for one batch.
type BurstResult struct {
	Load    float64       `json:"load"`
	Jobs    int           `json:"jobs"`
	Variant string        `json:"variant"`
	Bound   time.Duration `json:"bound_ns"` // the deadline or max wait; 0 for cheapest
	// Completed jobs; Unscheduled those still unplaced at their deadline.
	Completed   int `json:"completed"`
	Unscheduled int `json:"unscheduled"`
	// Makespan is the batch's submission → its last result (s); Ideal a
	// bound no placement beats (s): the batch's work over the mesh's
	// speed-weighted cores, or its longest job on the fastest provider.
	Makespan       float64 `json:"makespan_s"`
	Ideal          float64 `json:"ideal_s"`
	CompletionMean float64 `json:"completion_mean_s"`
	// CostMean is the mean charge per completed job (credits).
	CostMean float64 `json:"cost_mean"`
	// Providers ran jobs; MostOnOne is the most one of them ran.
	Providers int `json:"providers_used"`
	MostOnOne int `json:"most_on_one"`
}

// BurstReport is the scenario's outcome: each load's batch under each
// variant, the cheapest first.
type BurstReport struct {
	Config  BurstConfig   `json:"config"`
	Results []BurstResult `json:"results"`
}

type burstVariant struct {
	name  string
	bound time.Duration
}

// RunBurst runs every variant on every load's batch. Runs are independent
// and spread over the CPUs; the report is the same whatever their number.
func RunBurst(ctx context.Context, topo *Topology, cfg BurstConfig) (*BurstReport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := NewMesh(topo, cfg.Providers, 1, cfg.Seed)
	variants := []burstVariant{{VariantCheapest, 0}}
	for _, d := range cfg.Deadlines {
		variants = append(variants, burstVariant{VariantDeadline, d})
	}
	for _, d := range cfg.MaxWaits {
		variants = append(variants, burstVariant{VariantMaxWait, d})
	}
	wcfg := Config{Window: cfg.Window, MaxQueue: cfg.MaxQueue, Slack: 5 * time.Second, Backoff: cfg.Backoff, MaxAuctions: cfg.MaxAuctions}
	results := make([]BurstResult, len(cfg.Loads)*len(variants))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i, load := range cfg.Loads {
		batch := burstBatch(m, load, cfg.Run, cfg.Seed*1000+uint64(i))
		for k, v := range variants {
			wg.Go(func() {
				select {
				case sem <- struct{}{}:
				case <-ctx.Done():
					return
				}
				defer func() { <-sem }()
				jobs := slices.Clone(batch)
				for n := range jobs {
					switch v.name {
					case VariantDeadline:
						jobs[n].Deadline = v.bound
					case VariantMaxWait:
						jobs[n].MaxWait = v.bound
					}
				}
				w := newWorld(m, &wcfg, jobs, cfg.Seed*7919+uint64(i*len(variants)+k))
				w.run(Computemesh)
				results[i*len(variants)+k] = summariseBurst(w, load, v)
			})
		}
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return &BurstReport{Config: cfg, Results: results}, nil
}

// burstBatch is load × the mesh's speed-weighted cores one-core jobs of
// expected run time run, all submitted at 0 by client 0.
func burstBatch(m *Mesh, load float64, run time.Duration, seed uint64) []Job {
	capCPU, _ := m.Capacity()
	n := max(1, int(math.Round(load*capCPU)))
	r := rand.New(rand.NewPCG(seed, 0x62757273))
	jobs := make([]Job, n)
	for i := range jobs {
		j := &jobs[i]
		j.Index, j.ID = i, fmt.Sprintf("b%06d", i)
		j.Spec = job.Spec{Name: "sim", Executor: job.ExecutorWASM, Module: "sim", Policy: job.PolicyCost,
			Resources: job.Resources{CPUMillis: 1000, MemoryBytes: 2 << 30}, ExpectedMS: run.Milliseconds(),
			TimeoutMS: 6*run.Milliseconds() + 30_000}
		j.Deviation = math.Exp(devSigma*r.NormFloat64() - devSigma*devSigma/2)
	}
	return jobs
}

// summariseBurst computes a variant's figures over the whole batch.
func summariseBurst(w *world, load float64, v burstVariant) BurstResult {
	r := BurstResult{Load: load, Jobs: len(w.jobs), Variant: v.name, Bound: v.bound}
	capCPU, _ := w.mesh.Capacity()
	fastest := 0.0
	for i := range w.mesh.Providers {
		fastest = max(fastest, w.mesh.Providers[i].Record.Score.HashMBps/job.ReferenceHashMBps)
	}
	var work, longest, cost, completion float64
	perProvider := map[int]int{}
	for i := range w.out {
		o := &w.out[i]
		run := w.jobs[i].Deviation * float64(w.jobs[i].Spec.ExpectedMS) / 1000
		work, longest = work+run, max(longest, run)
		if !o.done {
			r.Unscheduled++
			continue
		}
		r.Completed++
		cost += o.cost.Float()
		c := (o.result - w.jobs[i].At).Seconds()
		completion += c
		r.Makespan = max(r.Makespan, c)
		perProvider[o.provider]++
	}
	r.Ideal = max(work/capCPU, longest/fastest)
	r.Providers = len(perProvider)
	for _, n := range perProvider {
		r.MostOnOne = max(r.MostOnOne, n)
	}
	if r.Completed > 0 {
		r.CostMean, r.CompletionMean = cost/float64(r.Completed), completion/float64(r.Completed)
	}
	return r
}
