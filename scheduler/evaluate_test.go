package scheduler_test

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/scheduler"
)

const evalJob = "bafyjob"

// Rates of 3.6 credits per core-hour make 1 core for 10s cost exactly 0.01
// credit (10,000,000 nano-credits); twice the rate, twice the price.
const (
	rate1 = job.Credits(3_600_000_000)
	rate2 = job.Credits(7_200_000_000)
	rate3 = job.Credits(10_800_000_000)
)

func evalSpec() *job.Spec {
	return &job.Spec{
		Executor:  job.ExecutorWASM,
		Module:    job.ModuleCID([]byte("m")).String(),
		Name:      "m",
		Resources: job.Resources{CPUMillis: 1000, MemoryBytes: 64 << 20},
		TimeoutMS: 10_000,
		Region:    "eu-*",
		Policy:    job.PolicyCost,
	}
}

// goodBid is a bid consistent with its rates for evalSpec: price is the
// hand-computed price of rate for 1 core for 10s.
func goodBid(provider string, rate job.Credits) job.Bid {
	return job.Bid{
		V: job.Version, Job: evalJob, Provider: provider, Region: "eu-west",
		Rates: job.Rates{CPUHour: rate}, Price: rate / 360, ExpiresMS: 0,
	}
}

func TestChecks(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	tests := []struct {
		name       string
		maxPrice   job.Credits
		bid        func() job.Bid
		wantReason string // "" means the bid passes every check
	}{
		{"a consistent bid passes", 0, func() job.Bid { return goodBid("p", rate1) }, ""},
		{"decline with detail", 0, func() job.Bid {
			b := goodBid("p", rate1)
			b.Decline, b.Detail = job.DeclineBusy, "wants 1 cpu, free 0 cpu"
			return b
		}, "declined: busy (wants 1 cpu, free 0 cpu)"},
		{"decline without detail", 0, func() job.Bid {
			b := goodBid("p", rate1)
			b.Decline = job.DeclineRegion
			return b
		}, "declined: region"},
		{"a decline is reported as such before anything else", 0, func() job.Bid {
			b := goodBid("p", rate1)
			b.Decline, b.Job, b.Region = job.DeclinePrice, "other", "us-east"
			return b
		}, "declined: price"},
		{"wrong job", 0, func() job.Bid {
			b := goodBid("p", rate1)
			b.Job = "bafyother"
			return b
		}, "bid for another job bafyother"},
		{"expired", 0, func() job.Bid {
			b := goodBid("p", rate1)
			b.ExpiresMS = now.UnixMilli() - 1
			return b
		}, "bid expired"},
		{"expires right now is still valid", 0, func() job.Bid {
			b := goodBid("p", rate1)
			b.ExpiresMS = now.UnixMilli()
			return b
		}, ""},
		{"expires later", 0, func() job.Bid {
			b := goodBid("p", rate1)
			b.ExpiresMS = now.Add(time.Minute).UnixMilli()
			return b
		}, ""},
		{"region outside the glob", 0, func() job.Bid {
			b := goodBid("p", rate1)
			b.Region = "us-east"
			return b
		}, "region us-east is not eu-*"},
		{"no region", 0, func() job.Bid {
			b := goodBid("p", rate1)
			b.Region = ""
			return b
		}, "region  is not eu-*"},
		{"price above what the rates give", 0, func() job.Bid {
			b := goodBid("p", rate1)
			b.Price++
			return b
		}, "price 0.010000001 does not follow from its rates (0.01)"},
		{"price below what the rates give", 0, func() job.Bid {
			b := goodBid("p", rate1)
			b.Price = 1
			return b
		}, "price 0.000000001 does not follow from its rates (0.01)"},
		{"rates that overflow", 0, func() job.Bid {
			b := goodBid("p", math.MaxInt64)
			b.Price = 1
			return b
		}, "price: "},
		{"within the max price", 20_000_000, func() job.Bid { return goodBid("p", rate2) }, ""},
		{"over the max price", 15_000_000, func() job.Bid { return goodBid("p", rate2) }, "price 0.02 is over the max price 0.015"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := evalSpec()
			s.MaxPrice = tt.maxPrice
			b := tt.bid()
			ev := scheduler.Evaluate([]job.Bid{b}, scheduler.Checks(evalJob, s, now), scheduler.Policy{Name: s.Policy}, nil)
			if tt.wantReason == "" {
				if len(ev.Rejected) != 0 || len(ev.Ranked) != 1 {
					t.Fatalf("bid %+v rejected: %+v", b, ev.Rejected)
				}
				if ev.Ranked[0].Bid != b || ev.Ranked[0].RTT != 0 {
					t.Fatalf("ranked option = %+v, want the bid unchanged with RTT 0", ev.Ranked[0])
				}
				return
			}
			if len(ev.Ranked) != 0 || len(ev.Rejected) != 1 {
				t.Fatalf("bid %+v: ranked %d, rejected %d; want it rejected with %q", b, len(ev.Ranked), len(ev.Rejected), tt.wantReason)
			}
			if r := ev.Rejected[0]; !strings.HasPrefix(r.Reason, tt.wantReason) || r.Bid != b {
				t.Fatalf("rejection = %q (bid %+v), want reason %q", r.Reason, r.Bid, tt.wantReason)
			}
		})
	}
}

func TestEvaluateSplitsAndRanks(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	s := evalSpec()
	declined := goodBid("d", rate1)
	declined.Decline = job.DeclineBusy
	foreign := goodBid("f", rate1)
	foreign.Job = "bafyother"
	answers := []job.Bid{goodBid("c", rate3), declined, goodBid("a", rate2), foreign, goodBid("b", rate1)}
	rtts := map[string]time.Duration{"a": time.Millisecond, "b": 2 * time.Millisecond}
	var asked []string
	est := func(b *job.Bid) scheduler.Option {
		asked = append(asked, b.Provider)
		return scheduler.Option{RTT: rtts[b.Provider]}
	}

	ev := scheduler.Evaluate(answers, scheduler.Checks(evalJob, s, now), scheduler.Policy{Name: job.PolicyCost}, est)

	var ranked []string
	for _, o := range ev.Ranked {
		ranked = append(ranked, o.Bid.Provider)
		if o.RTT != rtts[o.Bid.Provider] {
			t.Errorf("option %s has RTT %v, want %v", o.Bid.Provider, o.RTT, rtts[o.Bid.Provider])
		}
	}
	if want := []string{"b", "a", "c"}; !slices.Equal(ranked, want) {
		t.Errorf("ranked = %v, want %v (lowest price first)", ranked, want)
	}
	var rejected []string
	for _, r := range ev.Rejected {
		rejected = append(rejected, r.Bid.Provider)
	}
	if want := []string{"d", "f"}; !slices.Equal(rejected, want) {
		t.Errorf("rejected = %v, want %v in arrival order", rejected, want)
	}
	slices.Sort(asked)
	if want := []string{"a", "b", "c"}; !slices.Equal(asked, want) {
		t.Errorf("RTT asked for %v, want only the feasible %v", asked, want)
	}
}

func TestPolicyRanking(t *testing.T) {
	opt := func(p string, price job.Credits, rtt time.Duration) scheduler.Option {
		return scheduler.Option{Bid: job.Bid{Provider: p, Price: price}, RTT: rtt}
	}
	ms := time.Millisecond
	tests := []struct {
		name    string
		policy  string
		options []scheduler.Option
		want    []string
	}{
		{"cost: lowest price first", job.PolicyCost, []scheduler.Option{
			opt("a", 30, ms), opt("b", 10, 9*ms), opt("c", 20, 0),
		}, []string{"b", "c", "a"}},
		{"cost: equal prices by RTT", job.PolicyCost, []scheduler.Option{
			opt("a", 10, 5*ms), opt("b", 10, 2*ms), opt("c", 5, 9*ms),
		}, []string{"c", "b", "a"}},
		{"cost: unknown RTT loses a price tie", job.PolicyCost, []scheduler.Option{
			opt("a", 10, 0), opt("b", 10, 50*ms),
		}, []string{"b", "a"}},
		{"cost: full ties by provider ID", job.PolicyCost, []scheduler.Option{
			opt("zed", 10, ms), opt("alpha", 10, ms), opt("mid", 10, ms),
		}, []string{"alpha", "mid", "zed"}},
		{"cost: unknown RTTs tie, then provider ID", job.PolicyCost, []scheduler.Option{
			opt("b", 10, 0), opt("a", 10, -1),
		}, []string{"a", "b"}},
		{"latency: lowest RTT first", job.PolicyLatency, []scheduler.Option{
			opt("a", 1, 5*ms), opt("b", 100, ms), opt("c", 50, 3*ms),
		}, []string{"b", "c", "a"}},
		{"latency: unknown RTT last", job.PolicyLatency, []scheduler.Option{
			opt("a", 1, 0), opt("b", 100, time.Second), opt("c", 1, -time.Second),
		}, []string{"b", "a", "c"}},
		{"latency: equal RTTs by price", job.PolicyLatency, []scheduler.Option{
			opt("a", 30, ms), opt("b", 10, ms), opt("c", 20, ms),
		}, []string{"b", "c", "a"}},
		{"latency: full ties by provider ID", job.PolicyLatency, []scheduler.Option{
			opt("y", 10, 0), opt("x", 10, 0),
		}, []string{"x", "y"}},
		{"unknown policy ranks by cost", "fastest", []scheduler.Option{
			opt("a", 30, ms), opt("b", 10, 9*ms),
		}, []string{"b", "a"}},
		{"latency: queue wait counts", job.PolicyLatency, []scheduler.Option{
			opt("near-busy", 10, ms), opt("far-idle", 10, 40*ms),
		}, []string{"far-idle", "near-busy"}},
		{"balanced: half the price at twice the RTT ties on score, then price", job.PolicyBalanced, []scheduler.Option{
			opt("cheap-far", 10, 20*ms), opt("dear-near", 20, 10*ms),
		}, []string{"cheap-far", "dear-near"}},
		{"balanced: a tenth of the price at twice the RTT wins", job.PolicyBalanced, []scheduler.Option{
			opt("dear-near", 100, 10*ms), opt("cheap-far", 10, 20*ms),
		}, []string{"cheap-far", "dear-near"}},
		{"balanced: a tenth of the RTT at twice the price wins", job.PolicyBalanced, []scheduler.Option{
			opt("cheap-far", 10, 100*ms), opt("dear-near", 20, 10*ms),
		}, []string{"dear-near", "cheap-far"}},
		{"balanced: unknown RTT counts as four times the best", job.PolicyBalanced, []scheduler.Option{
			opt("unknown", 10, 0), opt("known", 30, ms),
		}, []string{"known", "unknown"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			byProvider := map[string]scheduler.Option{}
			for _, o := range tt.options {
				if o.Bid.Provider == "near-busy" {
					o.Wait = 50 * ms // queued behind other jobs
				}
				byProvider[o.Bid.Provider] = o
			}
			est := func(b *job.Bid) scheduler.Option { return byProvider[b.Provider] }
			// Every input order gives the same ranking.
			for _, perm := range permutations(len(tt.options)) {
				in := make([]job.Bid, len(perm))
				for i, j := range perm {
					in[i] = tt.options[j].Bid
				}
				ev := scheduler.Evaluate(in, nil, scheduler.Policy{Name: tt.policy}, est)
				var got []string
				for _, o := range ev.Ranked {
					got = append(got, o.Bid.Provider)
				}
				if !slices.Equal(got, tt.want) {
					t.Fatalf("input order %v: ranked %v, want %v", perm, got, tt.want)
				}
			}
		})
	}
}

func permutations(n int) [][]int {
	if n == 0 {
		return [][]int{{}}
	}
	var out [][]int
	for _, p := range permutations(n - 1) {
		for i := 0; i <= len(p); i++ {
			q := append(append(append([]int{}, p[:i]...), n-1), p[i:]...)
			out = append(out, q)
		}
	}
	return out
}

func TestEvaluateUsesRTTForLatency(t *testing.T) {
	answers := []job.Bid{goodBid("far", rate1), goodBid("near", rate3), goodBid("unknown", rate1)}
	rtts := map[string]time.Duration{"far": 80 * time.Millisecond, "near": 2 * time.Millisecond}
	est := func(b *job.Bid) scheduler.Option { return scheduler.Option{RTT: rtts[b.Provider]} }
	ev := scheduler.Evaluate(answers, nil, scheduler.Policy{Name: job.PolicyLatency}, est)
	var got []string
	for _, o := range ev.Ranked {
		got = append(got, o.Bid.Provider)
	}
	if want := []string{"near", "far", "unknown"}; !slices.Equal(got, want) {
		t.Fatalf("ranked %v, want %v", got, want)
	}
}

func TestWhy(t *testing.T) {
	cost := []scheduler.Option{
		{Bid: job.Bid{Provider: "a", Price: 10_000_000}, RTT: 1500 * time.Microsecond},
		{Bid: job.Bid{Provider: "b", Price: 20_000_000}},
		{Bid: job.Bid{Provider: "c", Price: 1_500_000_000}, RTT: 12 * time.Millisecond},
	}
	latency := []scheduler.Option{
		{Bid: job.Bid{Provider: "a", Price: 30}, RTT: 1500 * time.Microsecond},
		{Bid: job.Bid{Provider: "b", Price: 10}, RTT: 12346 * time.Microsecond},
		{Bid: job.Bid{Provider: "c", Price: 20}},
	}
	waited := []scheduler.Option{{Bid: job.Bid{Provider: "a", Price: 30}, RTT: 1500 * time.Microsecond, Wait: 2 * time.Second}}
	tests := []struct {
		policy string
		ranked []scheduler.Option
		i      int
		want   string
	}{
		{job.PolicyCost, cost, 0, "lowest price 0.01 credits (next 0.02) among 3 bids"},
		{job.PolicyCost, cost, 1, "backup #1: lowest price 0.02 credits (next 1.5) among 3 bids"},
		{job.PolicyCost, cost, 2, "backup #2: lowest price 1.5 credits among 3 bids"},
		{job.PolicyCost, cost[:1], 0, "lowest price 0.01 credits among 1 bids"},
		{"", cost[:2], 0, "lowest price 0.01 credits (next 0.02) among 2 bids"},
		{job.PolicyLatency, latency, 0, "lowest expected latency 1.50ms (next 12.35ms) among 3 bids"},
		{job.PolicyLatency, latency, 1, "backup #1: lowest expected latency 12.35ms (next unknown) among 3 bids"},
		{job.PolicyLatency, latency, 2, "backup #2: lowest expected latency unknown among 3 bids"},
		{job.PolicyLatency, waited, 0, "lowest expected latency 2001.50ms (RTT 1.50ms + wait 2s) among 1 bids"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d-of-%d", tt.policy, tt.i, len(tt.ranked)), func(t *testing.T) {
			if got := scheduler.Why(tt.policy, tt.ranked, tt.i); got != tt.want {
				t.Fatalf("Why = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNotRegionsAndPay(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	s := evalSpec()
	s.Region, s.NotRegions = "", []string{"us-*"}
	us, eu := goodBid("us", rate1), goodBid("eu", rate2)
	us.Region, eu.Region = "us-east", "eu-west"
	ev := scheduler.Evaluate([]job.Bid{us, eu}, scheduler.Checks(evalJob, s, now), scheduler.Policy{Name: job.PolicyCost}, nil)
	if len(ev.Ranked) != 1 || ev.Ranked[0].Bid.Provider != "eu" {
		t.Fatalf("ranked %+v, want only eu", ev.Ranked)
	}
	if len(ev.Rejected) != 1 || ev.Rejected[0].Reason != "region us-east is excluded by us-*" {
		t.Fatalf("rejected %+v, want us with its reason", ev.Rejected)
	}

	ranked := []scheduler.Option{{Bid: job.Bid{Price: 10}}, {Bid: job.Bid{Price: 25}}, {Bid: job.Bid{Price: 40}}}
	for _, tt := range []struct {
		rule string
		i    int
		want job.Credits
	}{
		{"", 0, 10}, {job.AuctionFirstPrice, 1, 25}, {job.AuctionSecondPrice, 0, 25},
		{job.AuctionSecondPrice, 1, 40}, {job.AuctionSecondPrice, 2, 40},
	} {
		if got := scheduler.Pay(tt.rule, ranked, tt.i); got != tt.want {
			t.Errorf("Pay(%q, %d) = %d, want %d", tt.rule, tt.i, got, tt.want)
		}
	}
}

func TestBalancedRanksByReputation(t *testing.T) {
	opts := map[string]scheduler.Option{
		"trusted": {RTT: time.Millisecond, Reputation: 0.9},
		"shaky":   {RTT: time.Millisecond, Reputation: 0.3},
		"new":     {RTT: time.Millisecond}, // unknown: a newcomer's 0.5
	}
	est := func(b *job.Bid) scheduler.Option { return opts[b.Provider] }
	bids := []job.Bid{{Provider: "shaky", Price: 10}, {Provider: "new", Price: 10}, {Provider: "trusted", Price: 10}}
	for _, tt := range []struct {
		w    job.Weights
		want []string
	}{
		{job.Weights{}, []string{"new", "shaky", "trusted"}}, // price and latency tie: by peer ID
		{job.Weights{Cost: 1, Latency: 1, Reputation: 1}, []string{"trusted", "new", "shaky"}},
	} {
		ev := scheduler.Evaluate(bids, nil, scheduler.Policy{Name: job.PolicyBalanced, Weights: tt.w}, est)
		var got []string
		for _, o := range ev.Ranked {
			got = append(got, o.Bid.Provider)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("weights %+v: ranked %v, want %v", tt.w, got, tt.want)
		}
	}
}
