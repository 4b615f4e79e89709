package testnet

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/market"
	"github.com/computemesh/computemesh/node"
)

// HelloModule and SleepModule are where the job modules are on every node
// (the image's /jobs; a devnet's data root).
const (
	HelloModule = "hello.wasm"
	SleepModule = "sleep-8s.wasm"
	// SleepFor is how long SleepModule runs.
	SleepFor = 8 * time.Second
)

// jobKind is one kind of smoke job: its flags and the need they make.
type jobKind struct {
	name  string
	count int
	args  []string
	need  job.Need
}

// smokeJobs are the 50 jobs of the smoke scenario: CPU jobs with and
// without region constraints, and GPU jobs by count, VRAM and model.
func smokeJobs() []jobKind {
	return []jobKind{
		{"cpu", 9, nil, job.Need{}},
		{"cpu with 3GiB", 5, []string{"--memory", "3GiB"}, job.Need{MemoryBytes: 3 << 30}},
		{"cpu in eu-*", 6, []string{"--region", "eu-*"}, job.Need{Region: "eu-*"}},
		{"cpu in ap-southeast", 5, []string{"--region", "ap-southeast"}, job.Need{Region: "ap-southeast"}},
		{"cpu not in us-*", 5, []string{"--not-region", "us-*"}, job.Need{}},
		{"1 gpu", 10, []string{"--gpus", "1"}, job.Need{GPUs: 1}},
		{"1 gpu with 40GiB", 5, []string{"--gpus", "1", "--min-vram", "40GiB"}, job.Need{GPUs: 1, MinVRAM: 40 << 30}},
		{"1 h100", 5, []string{"--gpus", "1", "--gpu-model", "h100"}, job.Need{GPUs: 1, GPUModel: "h100"}},
	}
}

// jobFlags are what every scenario job reserves (given explicitly, so that
// the expected price does not depend on defaults), its policy, and a
// deadline: a job that meets no bid in one auction (the mesh busy) waits
// and is auctioned again, as a user's job would.
func jobFlags() []string {
	return []string{"--cpus", "1", "--memory", "64MiB", "--timeout", "30s", "--policy", "cost", "--deadline", "60s"}
}

func jobResources(need job.Need) job.Resources {
	mem := uint64(64 << 20)
	if need.MemoryBytes > 0 {
		mem = need.MemoryBytes
	}
	return job.Resources{CPUMillis: 1000, MemoryBytes: mem, GPUs: need.GPUs, GPUModel: need.GPUModel, GPUVRAMBytes: need.MinVRAM}
}

// cheapest returns the providers with the lowest price for a job kind
// among those whose verified records can run it, and that price.
func cheapest(provs []node.ProviderInfo, k jobKind) ([]string, job.Credits, error) {
	var best []string
	var low job.Credits
	for _, p := range provs {
		r := p.Record
		if r == nil || r.Mismatch(k.need) != "" {
			continue
		}
		if k.name == "cpu not in us-*" && strings.HasPrefix(r.Region, "us-") {
			continue
		}
		price, err := market.Price(r.Rates, jobResources(k.need), 30*time.Second)
		if err != nil {
			return nil, 0, err
		}
		switch {
		case best == nil || price < low:
			best, low = []string{p.Peer}, price
		case price == low:
			best = append(best, p.Peer)
		}
	}
	return best, low, nil
}

// Smoke submits 50 jobs, parallel at a time, through the client: every one
// must complete, each at (one of) the cheapest feasible providers.
func Smoke(ctx context.Context, c Cluster, client string, parallel int) *Check {
	ck := &Check{Scenario: "smoke"}
	provs, err := WaitProviders(ctx, c, client, len(Providers(c)))
	if err != nil {
		return ck.fail("%v", err)
	}
	names, err := PeerIDs(ctx, c)
	if err != nil {
		return ck.fail("%v", err)
	}
	byID := map[string]string{}
	for n, id := range names {
		byID[id] = n
	}
	type task struct {
		kind   jobKind
		expect []string
	}
	var tasks []task
	for _, k := range smokeJobs() {
		expect, price, err := cheapest(provs, k)
		if err != nil || len(expect) == 0 {
			return ck.fail("no provider can run %q jobs (%v)", k.name, err)
		}
		var en []string
		for _, id := range expect {
			en = append(en, byID[id])
		}
		ck.logf("%-20s ×%2d → cheapest feasible: %s at %s credits", k.name, k.count, strings.Join(en, ", "), price)
		for range k.count {
			tasks = append(tasks, task{k, expect})
		}
	}
	type done struct {
		t   task
		r   *Result
		err error
	}
	results := make([]done, len(tasks))
	sem := make(chan struct{}, max(parallel, 1))
	var wg sync.WaitGroup
	start := time.Now()
	for i, t := range tasks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			args := append([]string{"--wasm", c.JobPath(HelloModule)}, jobFlags()...)
			args = append(append(args, t.kind.args...), "--", fmt.Sprintf("smoke-%d", i))
			r, err := Submit(ctx, c, client, args...)
			results[i] = done{t, r, err}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	var completed, cheapestOK int
	var totals []time.Duration
	var problems []string
	perProvider := map[string]int{}
	for i, d := range results {
		if d.err != nil {
			problems = append(problems, fmt.Sprintf("job %d (%s): %v", i, d.t.kind.name, d.err))
			continue
		}
		completed++
		totals = append(totals, time.Duration(d.r.Timings.Total*float64(time.Millisecond)))
		perProvider[byID[d.r.Provider]]++
		if slices.Contains(d.t.expect, d.r.Provider) {
			cheapestOK++
		} else {
			problems = append(problems, fmt.Sprintf("job %d (%s) went to %s at %g credits, not the cheapest feasible", i, d.t.kind.name, byID[d.r.Provider], d.r.Price))
		}
	}
	for _, p := range problems {
		ck.logf("%s", p)
	}
	for _, n := range slices.Sorted(maps.Keys(perProvider)) {
		ck.logf("%-14s ran %d", n, perProvider[n])
	}
	rate := float64(completed) / wall.Seconds()
	ck.metric("jobs", float64(len(tasks)))
	ck.metric("jobs_per_s", rate)
	ck.metric("median_ms", float64(median(totals))/1e6)
	fig := fmt.Sprintf("%d/%d completed, %d/%d at the cheapest feasible provider; %.1f jobs/s (%d at a time), median submit→result %s",
		completed, len(tasks), cheapestOK, len(tasks), rate, parallel, ms(median(totals)))
	if completed != len(tasks) || cheapestOK != len(tasks) {
		return ck.fail("%s", fig)
	}
	return ck.pass("%s", fig)
}
