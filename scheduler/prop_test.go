package scheduler_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/market"
	"github.com/computemesh/computemesh/scheduler"
	"pgregory.net/rapid"
)

// Property tests (pgregory.net/rapid): random sequences and inputs checked
// against invariants that must hold for all of them, shrunk to a minimal
// counterexample on failure. Rerun a failure with the -rapid.seed it prints;
// -rapid.checks=N runs more cases than the default 100.

// ---- The reservation book ----

// propResources draws a request of up to 3 cores, 3 GiB and 2 GPUs; zero
// in any dimension included.
func propResources(t *rapid.T, label string) job.Resources {
	return job.Resources{
		CPUMillis:   rapid.Int64Range(0, 3000).Draw(t, label+".cpu"),
		MemoryBytes: rapid.Uint64Range(0, 3<<30).Draw(t, label+".mem"),
		GPUs:        rapid.IntRange(0, 2).Draw(t, label+".gpus"),
	}
}

func addRes(a, b job.Resources) job.Resources {
	return job.Resources{CPUMillis: a.CPUMillis + b.CPUMillis, MemoryBytes: a.MemoryBytes + b.MemoryBytes, GPUs: a.GPUs + b.GPUs}
}

func fitsIn(r, limit job.Resources) bool {
	return r.CPUMillis <= limit.CPUMillis && r.MemoryBytes <= limit.MemoryBytes && r.GPUs <= limit.GPUs
}

// TestPropReservations drives a reservation book with random Reserve,
// Release and LimitJobs calls beside a model (a map of what each job holds)
// and checks after every step: used never exceeds total in any dimension;
// Free() + the sum of what is held = total; a job never holds two
// reservations; the job cap holds; a Reserve succeeds exactly when the
// model says it fits, and a refusal always says why; Running() and Peak()
// agree with the model.
func TestPropReservations(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		total := job.Resources{
			CPUMillis:   rapid.Int64Range(0, 8000).Draw(t, "total.cpu"),
			MemoryBytes: rapid.Uint64Range(0, 8<<30).Draw(t, "total.mem"),
			GPUs:        rapid.IntRange(0, 4).Draw(t, "total.gpus"),
		}
		book := scheduler.NewReservations(total)
		limit := rapid.IntRange(0, 4).Draw(t, "maxJobs")
		book.LimitJobs(limit)
		held := map[string]job.Resources{} // the model
		peak := 0
		ids := rapid.SampledFrom([]string{"a", "b", "c", "d", "e", "f"})

		check := func(t *rapid.T) {
			var sum job.Resources
			for _, r := range held {
				sum = addRes(sum, r)
			}
			if !fitsIn(sum, total) {
				t.Fatalf("held %s exceeds the total %s", sum, total)
			}
			if got, want := addRes(book.Free(), sum), total; got != want {
				t.Fatalf("free %s + held %s = %s, want the total %s", book.Free(), sum, got, want)
			}
			if limit > 0 && len(held) > limit {
				t.Fatalf("%d jobs hold reservations, cap %d", len(held), limit)
			}
			if got := book.Running(); got != len(held) {
				t.Fatalf("Running() = %d, the model holds %d", got, len(held))
			}
			if got := book.Peak(); got != peak {
				t.Fatalf("Peak() = %d, want %d", got, peak)
			}
		}
		t.Repeat(map[string]func(*rapid.T){
			"reserve": func(t *rapid.T) {
				id := ids.Draw(t, "id")
				res := propResources(t, "res")
				_, dup := held[id]
				var sum job.Resources
				for _, r := range held {
					sum = addRes(sum, r)
				}
				want := !dup && (limit == 0 || len(held) < limit) && fitsIn(addRes(sum, res), total)
				err := book.Reserve(id, res)
				switch {
				case err == nil && !want:
					t.Fatalf("Reserve(%s, %s) succeeded; the model refuses it (dup %v, %d held, cap %d, used %s of %s)",
						id, res, dup, len(held), limit, sum, total)
				case err != nil && want:
					t.Fatalf("Reserve(%s, %s) refused (%v); the model accepts it", id, res, err)
				case err != nil && err.Error() == "":
					t.Fatalf("Reserve(%s, %s) refused without a reason", id, res)
				case err == nil:
					held[id] = res
					peak = max(peak, len(held))
				}
			},
			"release": func(t *rapid.T) {
				id := ids.Draw(t, "id")
				book.Release(id) // releasing what is not held is a no-op
				delete(held, id)
			},
			"": check,
		})
	})
}

// TestPropReservationsLimitChanges lowers and raises the job cap while jobs
// hold reservations: a Reserve succeeds only while fewer jobs than the cap
// in force hold one (jobs already running are not evicted).
func TestPropReservationsLimitChanges(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		book := scheduler.NewReservations(job.Resources{CPUMillis: 1 << 40, MemoryBytes: 1 << 50, GPUs: 1 << 20})
		limit := 0
		ids := rapid.SampledFrom([]string{"a", "b", "c", "d", "e", "f"})
		t.Repeat(map[string]func(*rapid.T){
			"limit": func(t *rapid.T) {
				limit = rapid.IntRange(0, 4).Draw(t, "maxJobs")
				book.LimitJobs(limit)
			},
			"reserve": func(t *rapid.T) {
				before := book.Running()
				err := book.Reserve(ids.Draw(t, "id"), propResources(t, "res"))
				if err == nil && limit > 0 && before >= limit {
					t.Fatalf("Reserve succeeded with %d jobs holding and a cap of %d", before, limit)
				}
			},
			"release": func(t *rapid.T) { book.Release(ids.Draw(t, "id")) },
		})
	})
}

// TestPropReservationsConcurrent hammers one book from several goroutines
// (run with -race): whatever the interleaving, the cap and the capacity
// hold, and everything is free again once every job has released.
func TestPropReservationsConcurrent(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		total := job.Resources{CPUMillis: rapid.Int64Range(1000, 4000).Draw(t, "cpu"), MemoryBytes: 4 << 30}
		limit := rapid.IntRange(0, 3).Draw(t, "maxJobs")
		workers := rapid.IntRange(2, 8).Draw(t, "workers")
		seed := rapid.Uint64().Draw(t, "seed")
		book := scheduler.NewReservations(total)
		book.LimitJobs(limit)
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			fail string
		)
		for w := range workers {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(seed, uint64(w)))
				for i := range 50 {
					id := fmt.Sprintf("w%d-%d", w, i)
					res := job.Resources{CPUMillis: rng.Int64N(1500), MemoryBytes: uint64(rng.IntN(1 << 30))}
					if err := book.Reserve(id, res); err != nil {
						continue
					}
					free, running := book.Free(), book.Running()
					if free.CPUMillis < 0 || free.MemoryBytes > total.MemoryBytes || (limit > 0 && running > limit) {
						mu.Lock()
						fail = fmt.Sprintf("free %s with %d running (cap %d) of %s", free, running, limit, total)
						mu.Unlock()
					}
					book.Release(id)
				}
			})
		}
		wg.Wait()
		if fail != "" {
			t.Fatal(fail)
		}
		if book.Free() != total || book.Running() != 0 {
			t.Fatalf("after every release: free %s, %d running; want %s, 0", book.Free(), book.Running(), total)
		}
		if limit > 0 && book.Peak() > limit {
			t.Fatalf("peak %d over the cap %d", book.Peak(), limit)
		}
	})
}

func TestReservationsPeak(t *testing.T) {
	book := scheduler.NewReservations(job.Resources{CPUMillis: 3000, MemoryBytes: 3 << 30})
	one := job.Resources{CPUMillis: 1000, MemoryBytes: 1 << 30}
	if book.Peak() != 0 {
		t.Fatalf("new book: peak %d", book.Peak())
	}
	for _, id := range []string{"a", "b"} {
		if err := book.Reserve(id, one); err != nil {
			t.Fatal(err)
		}
	}
	book.Release("a")
	if err := book.Reserve("c", one); err != nil {
		t.Fatal(err)
	}
	if got := book.Peak(); got != 2 {
		t.Fatalf("peak %d after holding 2, releasing 1 and holding 2 again; want 2", got)
	}
	if err := book.Reserve("d", one); err != nil {
		t.Fatal(err)
	}
	if err := book.Reserve("e", one); err == nil {
		t.Fatal("a fourth core was reserved out of three")
	}
	book.Release("b")
	book.Release("c")
	book.Release("d")
	if got := book.Peak(); got != 3 {
		t.Fatalf("peak %d, want 3 (a refused reserve and releases do not count)", got)
	}
}

// ---- Ranking ----

var propPolicies = []string{job.PolicyCost, job.PolicyLatency, job.PolicyBalanced, job.PolicyGreen}

// propRates are a few rates, so that prices tie often.
var propRates = []job.Credits{0, rate1, rate2, rate3}

// propAnswers draws up to 30 answers from distinct providers (an auction
// keeps one answer per provider) for evalSpec: consistent bids, bids whose
// price does not follow from their rates, declines, bids for another job,
// expired bids and bids from other regions.
func propAnswers(t *rapid.T, now time.Time) []job.Bid {
	n := rapid.IntRange(0, 30).Draw(t, "answers")
	out := make([]job.Bid, n)
	for i := range out {
		rate := rapid.SampledFrom(propRates).Draw(t, "rate")
		b := job.Bid{
			V: job.Version, Job: evalJob, Provider: fmt.Sprintf("p%02d", i),
			Region: rapid.SampledFrom([]string{"eu-west", "eu-central", "us-east"}).Draw(t, "region"),
			Rates:  job.Rates{CPUHour: rate}, Price: rate / 360,
			WaitMS: rapid.SampledFrom([]int64{0, 0, 5, 100}).Draw(t, "wait"),
			Carbon: rapid.SampledFrom([]job.Intensity{0, 20, 120, 120, 700}).Draw(t, "carbon"),
		}
		switch rapid.IntRange(0, 9).Draw(t, "kind") {
		case 0:
			b.Decline = rapid.SampledFrom([]job.DeclineReason{job.DeclineBusy, job.DeclineRegion, job.DeclinePrice}).Draw(t, "code")
			b.Detail = rapid.SampledFrom([]string{"", "full"}).Draw(t, "detail")
			b.Price = 0
		case 1:
			b.Price += job.Credits(rapid.Int64Range(1, 1000).Draw(t, "overclaim"))
		case 2:
			b.Job = "bafyother"
		case 3:
			b.ExpiresMS = now.UnixMilli() - rapid.Int64Range(1, 1000).Draw(t, "expiredBy")
		default:
			b.ExpiresMS = now.UnixMilli() + rapid.Int64Range(0, 60_000).Draw(t, "expiresIn")
		}
		out[i] = b
	}
	return out
}

// propEstimator gives each provider a fixed RTT (sometimes unknown: 0) and
// run time, drawn once per case.
func propEstimator(t *rapid.T, answers []job.Bid) scheduler.Estimator {
	rtt := map[string]time.Duration{}
	run := map[string]time.Duration{}
	for _, b := range answers {
		rtt[b.Provider] = time.Duration(rapid.SampledFrom([]int64{0, 100_000, 1_000_000, 1_000_000, 20_000_000}).Draw(t, "rtt"))
		run[b.Provider] = time.Duration(rapid.SampledFrom([]int64{0, 0, 1_000_000, 50_000_000}).Draw(t, "run"))
	}
	return func(b *job.Bid) scheduler.Option {
		return scheduler.Option{RTT: rtt[b.Provider], Wait: time.Duration(b.WaitMS) * time.Millisecond, Run: run[b.Provider]}
	}
}

func propPolicy(t *rapid.T) scheduler.Policy {
	return scheduler.Policy{
		Name: rapid.SampledFrom(propPolicies).Draw(t, "policy"),
		Weights: job.Weights{
			Cost:    rapid.Float64Range(-1, 10).Draw(t, "weights.cost"),
			Latency: rapid.Float64Range(-1, 10).Draw(t, "weights.latency"),
			Carbon:  rapid.SampledFrom([]float64{0, 0, 1, 5}).Draw(t, "weights.carbon"),
		},
		Energy: rapid.SampledFrom([]float64{0, 0.5, 40}).Draw(t, "energy"),
	}
}

func rankedProviders(ev scheduler.Evaluation) []string {
	var ps []string
	for _, o := range ev.Ranked {
		ps = append(ps, o.Bid.Provider)
	}
	return ps
}

func rejectedByProvider(ev scheduler.Evaluation) map[string]string {
	m := map[string]string{}
	for _, r := range ev.Rejected {
		m[r.Bid.Provider] = r.Reason
	}
	return m
}

// TestPropEvaluate checks Evaluate under every policy with random weights,
// answers and estimates: the result does not depend on the order the
// answers arrived in; every answer is ranked or rejected, never both, never
// lost; every rejection has a reason, and it is the first check that fails;
// every ranked option passes every check; under cost the winner has the
// lowest price, under latency the lowest known latency.
func TestPropEvaluate(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	rapid.Check(t, func(t *rapid.T) {
		s := evalSpec()
		s.MaxPrice = rapid.SampledFrom([]job.Credits{0, 0, rate2 / 360}).Draw(t, "maxPrice")
		answers := propAnswers(t, now)
		est := propEstimator(t, answers)
		p := propPolicy(t)
		checks := scheduler.Checks(evalJob, s, now)
		ev := scheduler.Evaluate(answers, checks, p, est)

		// Order independence.
		shuffled := rapid.Permutation(answers).Draw(t, "order")
		ev2 := scheduler.Evaluate(shuffled, checks, p, est)
		if a, b := rankedProviders(ev), rankedProviders(ev2); !slices.Equal(a, b) {
			t.Fatalf("ranking depends on arrival order:\n%v\n%v", a, b)
		}
		for i := range ev.Ranked {
			if ev.Ranked[i].Score != ev2.Ranked[i].Score {
				t.Fatalf("score of %s depends on arrival order: %v, %v", ev.Ranked[i].Bid.Provider, ev.Ranked[i].Score, ev2.Ranked[i].Score)
			}
		}
		if a, b := rejectedByProvider(ev), rejectedByProvider(ev2); len(a) != len(b) {
			t.Fatalf("rejections depend on arrival order: %v, %v", a, b)
		} else {
			for k, v := range a {
				if b[k] != v {
					t.Fatalf("rejection of %s depends on arrival order: %q, %q", k, v, b[k])
				}
			}
		}

		// Conservation: ranked ⊎ rejected = answers.
		if len(ev.Ranked)+len(ev.Rejected) != len(answers) {
			t.Fatalf("%d ranked + %d rejected of %d answers", len(ev.Ranked), len(ev.Rejected), len(answers))
		}
		seen := map[string]string{}
		for _, o := range ev.Ranked {
			seen[o.Bid.Provider] = "ranked"
		}
		for _, r := range ev.Rejected {
			if seen[r.Bid.Provider] != "" {
				t.Fatalf("%s is both %s and rejected (%s)", r.Bid.Provider, seen[r.Bid.Provider], r.Reason)
			}
			seen[r.Bid.Provider] = "rejected"
		}
		for _, b := range answers {
			if seen[b.Provider] == "" {
				t.Fatalf("the answer of %s was lost", b.Provider)
			}
		}

		// Reasons: non-empty and the first failing check's; ranked pass all.
		for _, r := range ev.Rejected {
			if r.Reason == "" {
				t.Fatalf("%s rejected without a reason", r.Bid.Provider)
			}
			first, code := "", job.RejectReason("")
			for _, c := range checks {
				if first, code = c.Test(&r.Bid), c.Code; first != "" {
					break
				}
			}
			if first != r.Reason || code != r.Code {
				t.Fatalf("%s rejected for %s %q; the first failing check says %s %q", r.Bid.Provider, r.Code, r.Reason, code, first)
			}
			if r.Bid.Decline != "" && r.Code != job.RejectDeclined {
				t.Fatalf("decline of %s rejected as %s %q", r.Bid.Provider, r.Code, r.Reason)
			}
		}
		for _, o := range ev.Ranked {
			for _, c := range checks {
				if why := c.Test(&o.Bid); why != "" {
					t.Fatalf("%s ranked although %s", o.Bid.Provider, why)
				}
			}
		}

		if len(ev.Ranked) == 0 {
			return
		}
		win := ev.Ranked[0]
		switch p.Name {
		case job.PolicyCost:
			for _, o := range ev.Ranked {
				if o.Bid.Price < win.Bid.Price {
					t.Fatalf("cost: winner %s at %s, but %s bids %s", win.Bid.Provider, win.Bid.Price, o.Bid.Provider, o.Bid.Price)
				}
			}
		case job.PolicyGreen:
			for _, o := range ev.Ranked {
				if o.Bid.Carbon > 0 && (win.Bid.Carbon == 0 || o.Bid.Carbon < win.Bid.Carbon) {
					t.Fatalf("green: winner %s emits %s at %d, but %s %s at %d", win.Bid.Provider, win.Emissions, win.Bid.Carbon, o.Bid.Provider, o.Emissions, o.Bid.Carbon)
				}
			}
		case job.PolicyLatency:
			for _, o := range ev.Ranked {
				if l := o.Latency(); l >= 0 && (win.Latency() < 0 || l < win.Latency()) {
					t.Fatalf("latency: winner %s at %v, but %s is at %v", win.Bid.Provider, win.Latency(), o.Bid.Provider, l)
				}
			}
		}
		for i := 1; i < len(ev.Ranked); i++ {
			if ev.Ranked[i].Score < ev.Ranked[i-1].Score {
				t.Fatalf("ranked out of score order at %d: %v after %v", i, ev.Ranked[i].Score, ev.Ranked[i-1].Score)
			}
		}
	})
}

// TestPropPay checks the auction rules on random rankings: first-price pays
// the option's own price; second-price never pays less than its own price,
// and pays the next option's price when that is higher.
func TestPropPay(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	rapid.Check(t, func(t *rapid.T) {
		answers := propAnswers(t, now)
		ev := scheduler.Evaluate(answers, scheduler.Checks(evalJob, evalSpec(), now), propPolicy(t), propEstimator(t, answers))
		for i, o := range ev.Ranked {
			own := o.Bid.Price
			if got := scheduler.Pay(job.AuctionFirstPrice, ev.Ranked, i); got != own {
				t.Fatalf("first-price pays %s to %s, whose price is %s", got, o.Bid.Provider, own)
			}
			if got := scheduler.Pay("", ev.Ranked, i); got != own {
				t.Fatalf("the default rule pays %s to %s, whose price is %s", got, o.Bid.Provider, own)
			}
			got := scheduler.Pay(job.AuctionSecondPrice, ev.Ranked, i)
			if got < own {
				t.Fatalf("second-price pays %s to %s, below its own price %s", got, o.Bid.Provider, own)
			}
			want := own
			if i+1 < len(ev.Ranked) && ev.Ranked[i+1].Bid.Price > own {
				want = ev.Ranked[i+1].Bid.Price
			}
			if got != want {
				t.Fatalf("second-price pays %s to ranked[%d] (own %s), want %s", got, i, own, want)
			}
		}
	})
}

// ---- Admission ----

var (
	declineCodes = []job.DeclineReason{job.DeclineRegion, job.DeclinePrice, job.DeclineResources, job.DeclineExecutor,
		job.DeclineBusy, job.DeclineImage, job.DeclineNetwork, job.DeclineClient, job.DeclineCommand}
	propH100 = job.GPU{Vendor: "nvidia", Model: "NVIDIA H100 80GB HBM3", VRAMBytes: 80 << 30}
)

// TestPropAdmit checks Admit on random offers, requests, free capacity and
// running counts: a bid never asks more than is free (nor more than the
// capacity), respects the job cap, the executor, the region, the client
// lists and the max price, and its price is what the rates give; a decline
// always has a known code and a detail, and no price. A bid's resources can
// then be reserved in a book with that much free.
func TestPropAdmit(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		capacity := job.Resources{
			CPUMillis:   rapid.Int64Range(0, 8000).Draw(t, "cap.cpu"),
			MemoryBytes: rapid.Uint64Range(0, 8<<30).Draw(t, "cap.mem"),
			GPUs:        rapid.IntRange(0, 2).Draw(t, "cap.gpus"),
		}
		o := &scheduler.Offer{
			Region: rapid.SampledFrom([]string{"eu-west", "us-east"}).Draw(t, "offer.region"),
			Rates: job.Rates{
				CPUHour: rapid.SampledFrom(propRates).Draw(t, "offer.cpuRate"),
				GPUHour: rapid.SampledFrom(propRates).Draw(t, "offer.gpuRate"),
				Floor:   rapid.SampledFrom([]job.Credits{0, 0, 5_000_000, 50_000_000}).Draw(t, "offer.floor"),
			},
			Executors: rapid.SampledFrom([][]string{{job.ExecutorWASM}, {job.ExecutorWASM, job.ExecutorDocker}, {job.ExecutorDocker}}).Draw(t, "offer.executors"),
			Capacity:  capacity,
			MaxJobs:   rapid.IntRange(0, 3).Draw(t, "offer.maxJobs"),
			Allow:     rapid.SampledFrom([][]string{nil, nil, {"client"}, {"other"}}).Draw(t, "offer.allow"),
			Deny:      rapid.SampledFrom([][]string{nil, nil, {"client"}}).Draw(t, "offer.deny"),
		}
		for range capacity.GPUs {
			o.GPUs = append(o.GPUs, propH100)
		}
		r := &job.Request{
			V: job.Version, Job: "bafyjob", Client: "client",
			Executor:   rapid.SampledFrom([]string{job.ExecutorWASM, job.ExecutorDocker}).Draw(t, "req.executor"),
			Resources:  propResources(t, "req"),
			TimeoutMS:  rapid.Int64Range(1, 3_600_000).Draw(t, "req.timeout"),
			MaxPrice:   rapid.SampledFrom([]job.Credits{0, 1_000_000, 10_000_000, 1_000_000_000}).Draw(t, "req.maxPrice"),
			Region:     rapid.SampledFrom([]string{"", "eu-*", "us-east"}).Draw(t, "req.region"),
			NotRegions: rapid.SampledFrom([][]string{nil, nil, {"us-*"}}).Draw(t, "req.notRegions"),
		}
		if r.Resources.GPUs > 0 {
			r.Resources.GPUModel = rapid.SampledFrom([]string{"", "h100", "a100"}).Draw(t, "req.gpuModel")
		}
		// Free is at most the capacity (a book never has more free).
		free := job.Resources{
			CPUMillis:   rapid.Int64Range(0, capacity.CPUMillis).Draw(t, "free.cpu"),
			MemoryBytes: rapid.Uint64Range(0, capacity.MemoryBytes).Draw(t, "free.mem"),
			GPUs:        rapid.IntRange(0, capacity.GPUs).Draw(t, "free.gpus"),
		}
		running := rapid.IntRange(0, 4).Draw(t, "running")

		b := scheduler.Admit(o, r, free, running)
		if b.Job != r.Job || b.Region != o.Region || b.Rates != o.Rates {
			t.Fatalf("answer names job %s, region %s, rates %+v; want %s, %s, %+v", b.Job, b.Region, b.Rates, r.Job, o.Region, o.Rates)
		}
		if b.Decline != "" {
			if !slices.Contains(declineCodes, b.Decline) {
				t.Fatalf("unknown decline code %q (%s)", b.Decline, b.Detail)
			}
			if b.Detail == "" {
				t.Fatalf("decline %q without a detail", b.Decline)
			}
			if b.Price != 0 {
				t.Fatalf("decline %q carries a price %s", b.Decline, b.Price)
			}
			return
		}
		if !fitsIn(r.Resources, free) {
			t.Fatalf("bid for %s with only %s free", r.Resources, free)
		}
		if !fitsIn(r.Resources, capacity) {
			t.Fatalf("bid for %s beyond the capacity %s", r.Resources, capacity)
		}
		if o.MaxJobs > 0 && running >= o.MaxJobs {
			t.Fatalf("bid with %d running and a cap of %d", running, o.MaxJobs)
		}
		if !slices.Contains(o.Executors, r.Executor) {
			t.Fatalf("bid for executor %s, offers %v", r.Executor, o.Executors)
		}
		if !r.RegionAllowed(o.Region) {
			t.Fatalf("bid from region %s for a request of region %q not %v", o.Region, r.Region, r.NotRegions)
		}
		if slices.Contains(o.Deny, r.Client) || (len(o.Allow) > 0 && !slices.Contains(o.Allow, r.Client)) {
			t.Fatalf("bid for client %s (allow %v, deny %v)", r.Client, o.Allow, o.Deny)
		}
		want, err := market.Price(o.Rates, r.Resources, r.Timeout())
		if err != nil || b.Price != want {
			t.Fatalf("bid price %s, the rates give %s (%v)", b.Price, want, err)
		}
		if r.MaxPrice > 0 && b.Price > r.MaxPrice {
			t.Fatalf("bid price %s over the max price %s", b.Price, r.MaxPrice)
		}
		// What was bid on can be reserved in a book with that much free.
		book := scheduler.NewReservations(free)
		if err := book.Reserve(r.Job, r.Resources); err != nil {
			t.Fatalf("bid for %s with %s free, but reserving it fails: %v", r.Resources, free, err)
		}
	})
}
