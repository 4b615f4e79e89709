package testnet

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/market"
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
func cheapest(provs []api.ProviderInfo, k jobKind) ([]string, job.Credits, error) {
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
	batches, err := planSmoke(ck, provs, byID)
	if err != nil {
		return ck.fail("%v", err)
	}
	// Every kind at once, each one `submit --repeat` with its share of the
	// jobs in flight: parallel jobs in all.
	per := max(1, (parallel+len(batches)-1)/len(batches))
	start := time.Now()
	submitSmoke(ctx, c, client, batches, per)
	wall := time.Since(start)
	t := smokeTally{perProvider: map[string]int{}}
	for _, b := range batches {
		t.add(ck, b, names, byID, func(id string) (*api.JobRecord, error) { return Describe(ctx, c, client, id) })
	}
	// The record the tally reads to excuse a job must be readable: check
	// it on one job whatever happened.
	if err := describeOne(ctx, c, client, batches); err != nil {
		t.problems = append(t.problems, err.Error())
	}
	for _, p := range t.problems {
		ck.logf("%s", p)
	}
	for _, n := range slices.Sorted(maps.Keys(t.perProvider)) {
		ck.logf("%-14s ran %d", n, t.perProvider[n])
	}
	ck.logf("medians: auction %s, award → result %s, submit → result %s", ms(median(t.auctions)), ms(median(t.runs)), ms(median(t.totals)))
	rate := float64(t.completed) / wall.Seconds()
	ck.metric("jobs", float64(t.total))
	ck.metric("jobs_per_s", rate)
	ck.metric("median_ms", float64(median(t.totals))/1e6)
	ck.metric("cheapest_silent", float64(t.silent))
	ck.metric("cheapest_busy", float64(t.busy))
	fig := fmt.Sprintf("%d/%d completed, %d/%d at the cheapest feasible provider (%d whose auction closed before every candidate answered, %d whose cheapest was busy); %.1f jobs/s (%d at a time), median submit→result %s",
		t.completed, t.total, t.cheapestOK, t.total, t.silent, t.busy, rate, per*len(batches), ms(median(t.totals)))
	// Every job whose auction heard every candidate must go to the
	// cheapest unless the cheapest said it was busy; at most a tenth may
	// miss it for either reason.
	if t.completed != t.total || len(t.problems) > 0 || t.cheapestOK+t.silent+t.busy != t.total || (t.silent+t.busy)*10 > t.total {
		return ck.fail("%s", fig)
	}
	return ck.pass("%s", fig)
}

// smokeBatch is one kind of smoke job: the providers it must go to and
// what its submissions gave.
type smokeBatch struct {
	kind   jobKind
	expect []string
	rs     []*Result
	err    error
}

// planSmoke finds the cheapest feasible providers of each kind of job.
func planSmoke(ck *Check, provs []api.ProviderInfo, byID map[string]string) ([]*smokeBatch, error) {
	var batches []*smokeBatch
	for _, k := range smokeJobs() {
		expect, price, err := cheapest(provs, k)
		if err != nil || len(expect) == 0 {
			return nil, fmt.Errorf("no provider can run %q jobs (%v)", k.name, err)
		}
		var en []string
		for _, id := range expect {
			en = append(en, byID[id])
		}
		ck.logf("%-20s ×%2d → cheapest feasible: %s at %s credits", k.name, k.count, strings.Join(en, ", "), price)
		batches = append(batches, &smokeBatch{kind: k, expect: expect})
	}
	return batches, nil
}

// submitSmoke submits every batch at once, each with per jobs in flight.
func submitSmoke(ctx context.Context, c Cluster, client string, batches []*smokeBatch, per int) {
	var wg sync.WaitGroup
	for i, b := range batches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			args := append([]string{"--wasm", c.JobPath(HelloModule)}, jobFlags()...)
			// --max-wait 0: the smoke checks that each auction picks the
			// cheapest; a batch's default wait bound spreads a backlog
			// (node TestBurstSpreadsUnderDeadline checks that).
			args = append(args, "--repeat", fmt.Sprint(b.kind.count), "--parallel", fmt.Sprint(per), "--max-wait", "0")
			args = append(append(args, b.kind.args...), "--", fmt.Sprintf("smoke-%d", i))
			b.rs, b.err = SubmitMany(ctx, c, client, args...)
		}()
	}
	wg.Wait()
}

// smokeTally counts the smoke jobs' results.
type smokeTally struct {
	completed, cheapestOK, silent, busy, total int
	totals, auctions, runs                     []time.Duration
	problems                                   []string
	perProvider                                map[string]int
}

// add counts one batch's results; describe fetches a job's record from the
// client, to learn why a job did not go to the cheapest.
func (t *smokeTally) add(ck *Check, b *smokeBatch, names, byID map[string]string, describe func(string) (*api.JobRecord, error)) {
	t.total += b.kind.count
	if b.err != nil {
		t.problems = append(t.problems, fmt.Sprintf("%s: %v", b.kind.name, b.err))
	}
	for i, r := range b.rs {
		if r.State != job.StateCompleted || r.ExitCode != 0 {
			t.problems = append(t.problems, fmt.Sprintf("%s job %d: %s (exit %d) on %s: %s", b.kind.name, i, r.State, r.ExitCode, nameOf(names, r.Provider), r.Error))
			continue
		}
		t.completed++
		t.totals = append(t.totals, time.Duration(r.Timings.Total*float64(time.Millisecond)))
		t.auctions = append(t.auctions, time.Duration(r.Timings.Auction*float64(time.Millisecond)))
		t.runs = append(t.runs, time.Duration(r.Timings.Run*float64(time.Millisecond)))
		t.perProvider[byID[r.Provider]]++
		switch {
		case slices.Contains(b.expect, r.Provider):
			t.cheapestOK++
		case r.Bids+r.Declines < r.Candidates || r.Attempts > 1:
			// Some candidate had not answered when the bid window
			// closed (9 nodes on 2 cores, a burst of auctions), or
			// the job failed over: the cheapest answer was not there
			// to choose. Counted, and bounded below.
			t.silent++
			ck.logf("%s job %d went to %s at %g credits: %d of %d candidates answered in the window (attempts %d)",
				b.kind.name, i, byID[r.Provider], r.Price, r.Bids+r.Declines, r.Candidates, r.Attempts)
		default:
			why := cheapestBusy(describe, r.Job, b.expect)
			if why == "" {
				t.problems = append(t.problems, fmt.Sprintf("%s job %d went to %s at %g credits, not the cheapest feasible", b.kind.name, i, byID[r.Provider], r.Price))
				continue
			}
			// The cheapest was full (its one GPU taken, its queue
			// too long for the deadline, still fetching the
			// client's records): the next was the right choice.
			// Counted, and bounded below.
			t.busy++
			ck.logf("%s job %d went to %s at %g credits: the cheapest %s", b.kind.name, i, byID[r.Provider], r.Price, nameIn(byID, why))
		}
	}
}

// cheapestBusy says how one of the cheapest providers was busy in the job's
// last auction ("" if none was, or the record cannot be read): it declined
// busy, bid behind a queue, or its bid failed the client's checks.
func cheapestBusy(describe func(string) (*api.JobRecord, error), id string, expect []string) string {
	rec, err := describe(id)
	if err != nil || len(rec.Rounds) == 0 {
		return ""
	}
	last := rec.Rounds[len(rec.Rounds)-1]
	for _, a := range last.Answers {
		switch {
		case !slices.Contains(expect, a.Provider):
		case a.Code == job.DeclineBusy:
			return fmt.Sprintf("%s declined: %s", a.Provider, a.Decline)
		case a.Queue > 0:
			return fmt.Sprintf("%s bid behind %d queued jobs", a.Provider, a.Queue)
		}
	}
	for _, x := range last.Rejected {
		if slices.Contains(expect, x.Provider) {
			return fmt.Sprintf("%s's bid was rejected: %s", x.Provider, x.Reason)
		}
	}
	return ""
}

// nameIn replaces the peer IDs in s with the nodes' names.
func nameIn(byID map[string]string, s string) string {
	for id, n := range byID {
		s = strings.ReplaceAll(s, id, n)
	}
	return s
}

// describeOne reads the record of the first job of the first batch that has
// one and checks that it names the provider the job's outcome names.
func describeOne(ctx context.Context, c Cluster, client string, batches []*smokeBatch) error {
	for _, b := range batches {
		if len(b.rs) == 0 {
			continue
		}
		r := b.rs[0]
		rec, err := Describe(ctx, c, client, r.Job)
		switch {
		case err != nil:
			return err
		case rec.Outcome == nil || rec.Outcome.Provider != r.Provider || len(rec.Rounds) == 0:
			return fmt.Errorf("job describe %s: the record's outcome (%+v, %d rounds) is not the one submit printed (provider %s)", r.Job, rec.Outcome, len(rec.Rounds), r.Provider)
		}
		return nil
	}
	return nil
}
