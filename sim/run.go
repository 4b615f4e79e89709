package sim

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"time"
)

// Config is one simulation: a mesh, a job stream per load, every scheduler
// on each stream.
type Config struct {
	Providers int       `json:"providers"`
	Clients   int       `json:"clients"`
	Jobs      int       `json:"jobs"` // per load
	Loads     []float64 `json:"loads"`
	Policy    string    `json:"policy"` // mixed, cost, latency or balanced
	Seed      uint64    `json:"seed"`
	// Window is the auction's deadline (the node's default bid window).
	Window time.Duration `json:"window_ns"`
	// MaxQueue bounds how many awarded jobs wait at one provider.
	MaxQueue int `json:"max_queue"`
	// Slack is how much later than its bid said (plus a quarter of the
	// bid's wait) a provider still starts an awarded job; later, it
	// declines the award.
	Slack time.Duration `json:"slack_ns"`
	// Backoff is how long a client waits before trying again when no
	// provider would take its job.
	Backoff time.Duration `json:"backoff_ns"`
	// MaxAuctions is how many auctions one client runs at once (the
	// client's --max-auctions); the rest wait for one to end. 0: no limit.
	MaxAuctions int `json:"max_auctions,omitempty"`
	// Warmup is the share of the stream's first jobs left out of the
	// figures (the mesh starts idle), Cooldown the share of its last
	// (the stream stops).
	Warmup   float64 `json:"warmup"`
	Cooldown float64 `json:"cooldown"`
	// DataBandwidth is how fast a provider fetches a job's input it does
	// not hold (bytes a second; jobs with Data, locality.go); DataBlind
	// makes every bid say it holds none, as before bids said (the
	// comparison).
	DataBandwidth int64 `json:"data_bandwidth,omitempty"`
	DataBlind     bool  `json:"data_blind,omitempty"`
	// Defer makes a job that weighs carbon and has a deadline wait for
	// its greenest start hour before its first round, as the client does
	// (green.go).
	Defer bool `json:"defer,omitempty"`
}

// DefaultConfig is the configuration of the quality benchmark.
func DefaultConfig() Config {
	return Config{
		Providers: 200, Clients: 100, Jobs: 20000, Loads: []float64{0.5, 0.8, 0.95}, Policy: PolicyMixed, Seed: 1,
		Window: 250 * time.Millisecond, MaxQueue: 8, Slack: 5 * time.Second, Backoff: time.Second,
		Warmup: 0.2, Cooldown: 0.05,
	}
}

// Validate checks c's fields.
func (c *Config) Validate() error {
	switch {
	case c.Providers < 1 || c.Providers > 100_000:
		return fmt.Errorf("providers: %d is out of range (1 to 100000)", c.Providers)
	case c.Clients < 1 || c.Clients > 100_000:
		return fmt.Errorf("clients: %d is out of range (1 to 100000)", c.Clients)
	case c.Jobs < 1 || c.Jobs > 10_000_000:
		return fmt.Errorf("jobs: %d is out of range (1 to 10000000)", c.Jobs)
	case len(c.Loads) == 0:
		return fmt.Errorf("loads: none given")
	case !ValidPolicy(c.Policy):
		return fmt.Errorf("policy: %q is not mixed, cost, latency or balanced", c.Policy)
	case c.Window <= 0 || c.MaxQueue < 0 || c.Slack < 0 || c.Backoff <= 0:
		return fmt.Errorf("window, max_queue, slack, backoff: window and backoff must be positive, the others not negative")
	case c.Warmup < 0 || c.Cooldown < 0 || c.Warmup+c.Cooldown >= 1:
		return fmt.Errorf("warmup, cooldown: %g, %g: each at least 0, together under 1", c.Warmup, c.Cooldown)
	}
	for i, l := range c.Loads {
		if l <= 0 || l > 2 || math.IsNaN(l) {
			return fmt.Errorf("loads[%d]: %g is out of range (0 to 2]", i, l)
		}
	}
	return nil
}

// Ratios are a scheduler's figures divided by the omniscient one's.
type Ratios struct {
	Cost           float64 `json:"cost"`
	RTT            float64 `json:"rtt"`
	CompletionMean float64 `json:"completion_mean"`
	CompletionP99  float64 `json:"completion_p99"`
}

// Result is one scheduler's figures at one load, over the measured jobs.
type Result struct {
	Scheduler string  `json:"scheduler"`
	Load      float64 `json:"load"`
	Jobs      int     `json:"jobs"`
	// Failed counts the measured jobs that no round placed (given up).
	Failed int `json:"failed"`
	// CostMean is the mean charge per job in credits.
	CostMean float64 `json:"cost_mean"`
	// RTTMeanMS is the mean RTT from client to the provider that ran the
	// job.
	RTTMeanMS float64 `json:"rtt_mean_ms"`
	// CompletionMean and CompletionP99 are submit → result at the client
	// in seconds: auction, network, queue wait and run.
	CompletionMean float64 `json:"completion_mean_s"`
	CompletionP99  float64 `json:"completion_p99_s"`
	WaitMean       float64 `json:"wait_mean_s"` // in the provider's queue
	RunMean        float64 `json:"run_mean_s"`
	// Awards is the mean number of awards sent per job (1: no decline);
	// Rounds the mean number of auctions or placement rounds.
	Awards float64 `json:"awards_mean"`
	// CPUBusy is the share of all providers' cores that ran jobs while the
	// measured jobs arrived (the load as it turned out: jobs on slower
	// providers hold cores longer).
	CPUBusy float64 `json:"cpu_busy"`
	Rounds  float64 `json:"rounds_mean"`
	Ratio   Ratios  `json:"vs_omniscient"`
	// ByPolicy is the mean completion (s) and cost of each policy's jobs.
	ByPolicy map[string]PolicyResult `json:"by_policy"`
}

// PolicyResult is the figures of the jobs of one policy.
type PolicyResult struct {
	Jobs           int     `json:"jobs"`
	CostMean       float64 `json:"cost_mean"`
	CompletionMean float64 `json:"completion_mean_s"`
}

// Report is a simulation's outcome.
type Report struct {
	Config Config `json:"config"`
	// Cities is the number of cities, FilledPairs the city pairs whose RTT
	// was estimated for want of a measurement.
	Cities      int      `json:"cities"`
	FilledPairs int      `json:"filled_pairs"`
	Results     []Result `json:"results"`
}

// Run simulates every scheduler at every load of cfg on topo. Runs are
// independent and spread over the CPUs; the report is the same whatever
// their number.
func Run(ctx context.Context, topo *Topology, cfg Config) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := NewMesh(topo, cfg.Providers, cfg.Clients, cfg.Seed)
	streams := make([][]Job, len(cfg.Loads))
	for i, load := range cfg.Loads {
		jobs, err := Stream(m, Workload{Jobs: cfg.Jobs, Load: load, Policy: cfg.Policy, Seed: cfg.Seed*1000 + uint64(i)})
		if err != nil {
			return nil, fmt.Errorf("load %g: %w", load, err)
		}
		streams[i] = jobs
	}
	kinds := Schedulers()
	results := make([]Result, len(cfg.Loads)*len(kinds))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i := range cfg.Loads {
		for k, kind := range kinds {
			wg.Go(func() {
				select {
				case sem <- struct{}{}:
				case <-ctx.Done():
					return
				}
				defer func() { <-sem }()
				w := newWorld(m, &cfg, streams[i], cfg.Seed*7919+uint64(i*len(kinds)+k))
				w.run(kind)
				results[i*len(kinds)+k] = summarise(w, kind, cfg.Loads[i])
			})
		}
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for i := range cfg.Loads {
		ref := results[i*len(kinds)+len(kinds)-1]
		for k := range kinds {
			r := &results[i*len(kinds)+k]
			r.Ratio = Ratios{
				Cost: ratio(r.CostMean, ref.CostMean), RTT: ratio(r.RTTMeanMS, ref.RTTMeanMS),
				CompletionMean: ratio(r.CompletionMean, ref.CompletionMean), CompletionP99: ratio(r.CompletionP99, ref.CompletionP99),
			}
		}
	}
	return &Report{Config: cfg, Cities: len(topo.Cities), FilledPairs: topo.Filled, Results: results}, nil
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// summarise computes a run's figures over the measured jobs.
func summarise(w *world, kind string, load float64) Result {
	r := Result{Scheduler: kind, Load: load, ByPolicy: map[string]PolicyResult{}}
	from := int(float64(len(w.jobs)) * w.cfg.Warmup)
	to := len(w.jobs) - int(float64(len(w.jobs))*w.cfg.Cooldown)
	var done []float64
	var cost, rtt, wait, run, awards, rounds float64
	for i := from; i < to; i++ {
		o := &w.out[i]
		if !o.done {
			r.Failed++
			continue
		}
		c := (o.result - w.jobs[i].At).Seconds()
		done = append(done, c)
		cost += o.cost.Float()
		rtt += float64(o.rtt) / float64(time.Millisecond)
		wait += o.wait.Seconds()
		run += o.run.Seconds()
		awards += float64(o.awards)
		rounds += float64(o.rounds)
		pr := r.ByPolicy[w.jobs[i].Spec.Policy]
		pr.Jobs++
		pr.CostMean += o.cost.Float()
		pr.CompletionMean += c
		r.ByPolicy[w.jobs[i].Spec.Policy] = pr
	}
	n := float64(len(done))
	if n == 0 {
		return r
	}
	r.CPUBusy = busy(w, w.jobs[from].At, w.jobs[to-1].At)
	r.Jobs = len(done)
	sum := 0.0
	for _, c := range done {
		sum += c
	}
	slices.Sort(done)
	r.CostMean, r.RTTMeanMS, r.CompletionMean = cost/n, rtt/n, sum/n
	r.CompletionP99 = done[min(len(done)-1, int(math.Ceil(0.99*n))-1)]
	r.WaitMean, r.RunMean, r.Awards, r.Rounds = wait/n, run/n, awards/n, rounds/n
	for p, pr := range r.ByPolicy {
		pr.CostMean /= float64(pr.Jobs)
		pr.CompletionMean /= float64(pr.Jobs)
		r.ByPolicy[p] = pr
	}
	return r
}

// busy is the share of the mesh's cores that ran jobs between from and to.
func busy(w *world, from, to time.Duration) float64 {
	if to <= from {
		return 0
	}
	var used, total float64
	for i := range w.out {
		o := &w.out[i]
		if !o.done {
			continue
		}
		start, end := max(o.started, from), min(o.started+o.run, to)
		if end > start {
			used += float64(w.jobs[i].Spec.Resources.CPUMillis) / 1000 * (end - start).Seconds()
		}
	}
	for i := range w.mesh.Providers {
		total += float64(w.mesh.Providers[i].Offer.Capacity.CPUMillis) / 1000
	}
	return used / (total * (to - from).Seconds())
}
