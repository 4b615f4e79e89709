package sim

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/computemesh/computemesh/job"
)

// LocalityConfig is the data-locality scenario (issue #17): a stream of
// one-core jobs under the latency policy, each with an input (one of
// Datasets, each held by Holders random providers already); a provider
// that lacks a job's input fetches it at Bandwidth before the job runs.
// Each size runs twice on the same stream and mesh: with bids that say
// how much of the input their provider holds (job.Bid.Held, counted by
// scheduler.Transfers) and blind, as bids were before.
type LocalityConfig struct {
	Providers int           `json:"providers"`
	Clients   int           `json:"clients"`
	Jobs      int           `json:"jobs"`
	Load      float64       `json:"load"`
	Sizes     []int64       `json:"sizes"` // bytes of each job's input
	Datasets  int           `json:"datasets"`
	Holders   int           `json:"holders"`
	Bandwidth int64         `json:"bandwidth"` // bytes a second
	Run       time.Duration `json:"run_ns"`    // expected run time on the reference machine
	Window    time.Duration `json:"window_ns"`
	Seed      uint64        `json:"seed"`
}

// DefaultLocalityConfig is the scenario of docs/BENCHMARKS.md.
func DefaultLocalityConfig() LocalityConfig {
	return LocalityConfig{Providers: 30, Clients: 10, Jobs: 300, Load: 0.5,
		Sizes: []int64{64 << 20, 1 << 30, 4 << 30}, Datasets: 10, Holders: 2, Bandwidth: 50 << 20,
		Run: time.Minute, Window: time.Second, Seed: 1}
}

// LocalityResult is one size under one variant.
type LocalityResult struct {
	Size      int64         `json:"size"`
	Blind     bool          `json:"blind"`
	Jobs      int           `json:"jobs"`
	Done      int           `json:"done"`
	AtHolder  float64       `json:"at_holder"` // share of the done jobs run where their input was
	P50, Mean time.Duration `json:"-"`         // submit → result
}

// RunLocality runs the scenario.
func RunLocality(ctx context.Context, topo *Topology, cfg LocalityConfig) ([]LocalityResult, error) {
	if cfg.Providers < cfg.Holders || cfg.Holders < 1 || cfg.Datasets < 1 || cfg.Jobs < 1 || cfg.Bandwidth <= 0 {
		return nil, fmt.Errorf("locality: providers %d, holders %d, datasets %d, jobs %d, bandwidth %d: out of range",
			cfg.Providers, cfg.Holders, cfg.Datasets, cfg.Jobs, cfg.Bandwidth)
	}
	m := NewMesh(topo, cfg.Providers, cfg.Clients, cfg.Seed)
	var out []LocalityResult
	for _, size := range cfg.Sizes {
		jobs := localityStream(m, cfg, size)
		for _, blind := range []bool{false, true} {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			wcfg := Config{Window: cfg.Window, MaxQueue: 64, Slack: 5 * time.Second, Backoff: 500 * time.Millisecond,
				MaxAuctions: 32, DataBandwidth: cfg.Bandwidth, DataBlind: blind}
			w := newWorld(m, &wcfg, slices.Clone(jobs), cfg.Seed*31+uint64(size>>20))
			w.run(Computemesh)
			out = append(out, summariseLocality(w, size, blind))
		}
	}
	return out, nil
}

// localityStream draws cfg.Jobs one-core jobs arriving at cfg.Load of the
// mesh's cores, each with an input of size bytes from one of the datasets.
func localityStream(m *Mesh, cfg LocalityConfig, size int64) []Job {
	r := rand.New(rand.NewPCG(cfg.Seed, 0x6c6f6361))
	holders := make([]map[int]bool, cfg.Datasets)
	for d := range holders {
		holders[d] = map[int]bool{}
		for _, p := range r.Perm(cfg.Providers)[:cfg.Holders] {
			holders[d][p] = true
		}
	}
	capCPU, _ := m.Capacity()
	rate := cfg.Load * capCPU / cfg.Run.Seconds() // jobs a second
	jobs := make([]Job, cfg.Jobs)
	var t time.Duration
	for i := range jobs {
		t += time.Duration(r.ExpFloat64() / rate * float64(time.Second))
		j := &jobs[i]
		j.Index, j.ID, j.At, j.Client = i, fmt.Sprintf("l%06d", i), t, r.IntN(len(m.Clients))
		j.Spec = job.Spec{Name: "sim", Executor: job.ExecutorWASM, Module: "sim", Policy: job.PolicyLatency,
			Resources: job.Resources{CPUMillis: 1000, MemoryBytes: 2 << 30}, ExpectedMS: cfg.Run.Milliseconds(),
			TimeoutMS: 6*cfg.Run.Milliseconds() + 3_600_000}
		j.Deviation = math.Exp(devSigma*r.NormFloat64() - devSigma*devSigma/2)
		j.Data, j.Holders = size, holders[r.IntN(cfg.Datasets)]
	}
	return jobs
}

func summariseLocality(w *world, size int64, blind bool) LocalityResult {
	res := LocalityResult{Size: size, Blind: blind, Jobs: len(w.jobs)}
	var took []time.Duration
	at := 0
	for i, o := range w.out {
		if !o.done {
			continue
		}
		res.Done++
		if w.jobs[i].Holders[o.provider] {
			at++
		}
		took = append(took, o.result-w.jobs[i].At)
	}
	if res.Done == 0 {
		return res
	}
	res.AtHolder = float64(at) / float64(res.Done)
	slices.Sort(took)
	res.P50 = took[len(took)/2]
	var sum time.Duration
	for _, d := range took {
		sum += d
	}
	res.Mean = sum / time.Duration(len(took))
	return res
}

// WriteLocalityTable writes the results as a Markdown table.
func WriteLocalityTable(w io.Writer, rs []LocalityResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	fmt.Fprintln(tw, "| input | bids | done | run where the input was | submit → result p50 | mean |")
	fmt.Fprintln(tw, "|---|---|---|---|---|---|")
	for _, r := range rs {
		bids := "say what they hold"
		if r.Blind {
			bids = "blind"
		}
		fmt.Fprintf(tw, "| %s | %s | %d/%d | %.0f %% | %v | %v |\n", job.FormatSize(uint64(r.Size)), bids, r.Done, r.Jobs,
			100*r.AtHolder, r.P50.Round(time.Second), r.Mean.Round(time.Second))
	}
	return tw.Flush()
}
