package sim

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"text/tabwriter"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/scheduler"
)

// GreenConfig is the green-placement scenario (issue #19): a day's stream
// of jobs on a mesh whose providers declare their carbon intensity hour
// by hour, from a regional intensity trace, at each load under four
// variants: policy cost (the reference), green, balanced with a carbon
// weight (cost, latency and carbon equal), and green with deferral (a
// share of the jobs, Deferrable, may start up to Defer after they arrive
// and wait for the greenest hour the forecasts declare, as the client
// does). Every job has a soft wait bound of a minute, as a batch's.
//
// The trace is synthetic (regionTrace): each region's grid has a mean
// intensity and a solar dip around its local noon, loosely after 2023
// annual means (Ember, Electricity Maps), and each provider's power a
// factor of its own and an hourly noise (wind, imports). The providers'
// forecasts are the trace itself: perfect.
type GreenConfig struct {
	Providers int           `json:"providers"`
	Clients   int           `json:"clients"`
	Loads     []float64     `json:"loads"`
	Span      time.Duration `json:"span_ns"`  // how long jobs arrive
	Run       time.Duration `json:"run_ns"`   // a job's expected run time on the reference machine
	Cores     int           `json:"cores"`    // a job's cores
	Defer     time.Duration `json:"defer_ns"` // the deferrable jobs' deadline after their arrival
	// Deferrable is the share of the jobs that may wait, under variant
	// green+defer (the others start at once).
	Deferrable float64 `json:"deferrable"`
	Seed       uint64  `json:"seed"`
}

// DefaultGreenConfig is the scenario of docs/BENCHMARKS.md.
func DefaultGreenConfig() GreenConfig {
	return GreenConfig{Providers: 20, Clients: 10, Loads: []float64{0.5, 0.8, 0.95}, Span: 24 * time.Hour,
		Run: 2 * time.Hour, Cores: 4, Defer: 12 * time.Hour, Deferrable: 0.3, Seed: 1}
}

// The variants of the green scenario.
const (
	GreenCost     = "cost"
	GreenGreen    = "green"
	GreenBalanced = "balanced+carbon"
	GreenDefer    = "green+defer"
)

// GreenResult is one load under one variant.
type GreenResult struct {
	Load    float64 `json:"load"`
	Variant string  `json:"variant"`
	Jobs    int     `json:"jobs"`
	Done    int     `json:"done"`
	// Emissions are the done jobs' (their energy over their real run
	// times at their providers' intensity then); Cost their charges.
	Emissions job.Carbon  `json:"emissions_ug"`
	Cost      job.Credits `json:"cost_nano"`
	// Result is the mean time from arrival to result, Deferred the mean
	// time a job waited for a greener hour, Wait the mean queue wait.
	Result, Deferred, Wait time.Duration `json:"-"`
}

// RunGreen runs the scenario.
func RunGreen(ctx context.Context, topo *Topology, cfg GreenConfig) ([]GreenResult, error) {
	if cfg.Providers < 1 || cfg.Clients < 1 || cfg.Cores < 1 || cfg.Run <= 0 || cfg.Span <= 0 || cfg.Defer < 0 {
		return nil, fmt.Errorf("green: providers %d, clients %d, cores %d, run %v, span %v, defer %v: out of range",
			cfg.Providers, cfg.Clients, cfg.Cores, cfg.Run, cfg.Span, cfg.Defer)
	}
	m := NewMesh(topo, cfg.Providers, cfg.Clients, cfg.Seed)
	hours := int((cfg.Span+cfg.Defer+6*cfg.Run)/time.Hour) + 2
	for i := range m.Providers {
		p := &m.Providers[i]
		p.Record.Forecast = &job.Forecast{StartMS: wall(0).UnixMilli(), Hours: regionTrace(p, topo, hours, cfg.Seed)}
	}
	var out []GreenResult
	for _, load := range cfg.Loads {
		for _, v := range []string{GreenCost, GreenGreen, GreenBalanced, GreenDefer} {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			jobs := greenStream(m, cfg, load, v)
			wcfg := Config{Window: time.Second, MaxQueue: 8, Slack: 5 * time.Second, Backoff: time.Second,
				MaxAuctions: 32, Defer: v == GreenDefer}
			w := newWorld(m, &wcfg, jobs, cfg.Seed*131+uint64(load*100))
			w.run(Computemesh)
			out = append(out, summariseGreen(w, load, v))
		}
	}
	return out, nil
}

// regionCarbon is a region's synthetic grid: its mean intensity
// (gCO₂e/kWh) and how deep its solar dip is at local noon (a share).
func regionCarbon(region string) (mean, solar float64) {
	switch region {
	case "eu-west":
		return 280, 0.35 // gas, wind, nuclear and solar
	case "eu-central":
		return 420, 0.30 // coal and lignite, much solar
	case "us-east":
		return 400, 0.15
	case "us-west":
		return 260, 0.55 // California's duck curve
	case "sa-east":
		return 110, 0.10 // hydro
	case "ap-northeast":
		return 480, 0.20
	case "ap-southeast":
		return 520, 0.10
	case "af-south":
		return 720, 0.05 // coal
	}
	return 450, 0.20
}

// regionTrace is provider p's intensity hour by hour from wall(0): its
// region's mean with a solar dip around local noon (by its city's
// longitude), times a factor of its own (0.7 to 1.3) and an hourly noise
// (±10 % typical), drawn from seed.
func regionTrace(p *Provider, topo *Topology, hours int, seed uint64) []job.Intensity {
	stream := uint64(0x67726565)
	for _, c := range p.ID {
		stream = stream*131 + uint64(c) // a stream of its own
	}
	r := rand.New(rand.NewPCG(seed, stream))
	mean, solar := regionCarbon(p.Offer.Region)
	factor := 0.7 + 0.6*r.Float64()
	lon := topo.Cities[p.City].Lon
	out := make([]job.Intensity, hours)
	for h := range out {
		local := math.Mod(float64(h)+0.5+lon/15+48, 24)
		sun := max(0, math.Sin(math.Pi*(local-6)/12))
		v := mean * factor * (1 - solar*sun) * (1 + 0.1*r.NormFloat64())
		out[h] = job.Intensity(min(max(math.Round(v), 10), 1500))
	}
	return out
}

// greenStream draws the day's jobs at load of the mesh's cores under
// variant v (the same arrivals and run times for every variant).
func greenStream(m *Mesh, cfg GreenConfig, load float64, v string) []Job {
	r := rand.New(rand.NewPCG(cfg.Seed, uint64(load*1000)))
	deferrable := rand.New(rand.NewPCG(cfg.Seed, uint64(load*1000)+1)) // apart: the same arrivals in every variant
	capCPU, _ := m.Capacity()
	rate := load * capCPU / float64(cfg.Cores) / cfg.Run.Seconds() // jobs a second
	var jobs []Job
	for t := time.Duration(r.ExpFloat64() / rate * float64(time.Second)); t < cfg.Span; t += time.Duration(r.ExpFloat64() / rate * float64(time.Second)) {
		// A soft wait bound, as a batch's (submit --repeat): bids that
		// would queue rank after those that start at once.
		j := Job{Index: len(jobs), ID: fmt.Sprintf("g%06d", len(jobs)), At: t, Client: r.IntN(len(m.Clients)), MaxWait: time.Minute}
		j.Spec = job.Spec{Name: "sim", Executor: job.ExecutorWASM, Module: "sim", Policy: job.PolicyCost,
			Resources:  job.Resources{CPUMillis: int64(cfg.Cores) * 1000, MemoryBytes: uint64(cfg.Cores) * 2 << 30},
			ExpectedMS: cfg.Run.Milliseconds(), TimeoutMS: 6 * cfg.Run.Milliseconds()}
		j.Deviation = math.Exp(devSigma*r.NormFloat64() - devSigma*devSigma/2)
		mayWait := deferrable.Float64() < cfg.Deferrable
		switch v {
		case GreenGreen:
			j.Spec.Policy = job.PolicyGreen
		case GreenBalanced:
			j.Spec.Policy, j.Spec.Weights = job.PolicyBalanced, job.Weights{Cost: 1, Latency: 1, Carbon: 1}
		case GreenDefer:
			j.Spec.Policy = job.PolicyGreen
			if mayWait {
				j.Deadline = t + cfg.Defer
			}
		}
		jobs = append(jobs, j)
	}
	return jobs
}

// submit starts job j's scheduling when it arrives: at once, or, under
// Config.Defer, for a job that weighs carbon and has a deadline, as the
// client does (client/defer.go): at the greenest start hour the records
// of its candidates declare within [now, deadline − its expected run]
// (scheduler.GreenestStart).
func (w *world) submit(j *Job, round func(*Job)) {
	if !w.cfg.Defer || j.Deadline <= 0 || !j.Spec.WeighsCarbon() {
		round(j)
		return
	}
	now := w.loop.Now()
	recs := make([]*job.Capacity, 0, len(w.cands[j.Index]))
	for _, p := range w.cands[j.Index] {
		recs = append(recs, &w.mesh.Providers[p].Record)
	}
	g := scheduler.GreenestStart(recs, j.Spec.CarbonRun(), wall(now), wall(j.Deadline-j.Spec.ExpectedRun()))
	at := g.At.Sub(wall(0))
	if at <= now {
		round(j)
		return
	}
	w.out[j.Index].deferred = at - now
	w.loop.At(at, func() { round(j) })
}

func summariseGreen(w *world, load float64, v string) GreenResult {
	res := GreenResult{Load: load, Variant: v, Jobs: len(w.jobs)}
	var result, deferred, wait time.Duration
	for i := range w.out {
		o := &w.out[i]
		if !o.done {
			continue
		}
		res.Done++
		res.Emissions += o.emissions
		res.Cost += o.cost
		result += o.result - w.jobs[i].At
		deferred += o.deferred
		wait += o.wait
	}
	if res.Done > 0 {
		n := time.Duration(res.Done)
		res.Result, res.Deferred, res.Wait = result/n, deferred/n, wait/n
	}
	return res
}

// WriteGreenTable writes the results as a Markdown table: each variant's
// emissions and cost against policy cost's at the same load.
func WriteGreenTable(w io.Writer, rs []GreenResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	fmt.Fprintln(tw, "| load | policy | done | emissions | saved vs cost | credits | vs cost | arrival → result | deferred | queue wait |")
	fmt.Fprintln(tw, "|---|---|---|---|---|---|---|---|---|---|")
	var ref GreenResult
	for _, r := range rs {
		if r.Variant == GreenCost {
			ref = r
		}
		saved, extra := "-", "-"
		if r.Variant != GreenCost && ref.Emissions > 0 && ref.Cost > 0 {
			saved = fmt.Sprintf("%.0f %%", 100*(1-float64(r.Emissions)/float64(ref.Emissions)))
			extra = fmt.Sprintf("%+.0f %%", 100*(float64(r.Cost)/float64(ref.Cost)-1))
		}
		fmt.Fprintf(tw, "| %.0f %% | %s | %d/%d | %s | %s | %.2f | %s | %v | %v | %v |\n", 100*r.Load, r.Variant, r.Done, r.Jobs,
			r.Emissions, saved, r.Cost.Float(), extra, r.Result.Round(time.Minute), r.Deferred.Round(time.Minute), r.Wait.Round(time.Second))
	}
	return tw.Flush()
}
