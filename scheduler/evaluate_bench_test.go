package scheduler_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/scheduler"
)

// BenchmarkEvaluate measures the client's evaluation of an auction's
// answers alone (feasibility checks, scoring, sorting), without a network:
// N answers, one in ten a decline and one in ten overpriced (rejected), the
// rest consistent bids at one of a few rates, each bidder with an RTT and a
// run estimate. See docs/BENCHMARKS.md ("Auction size").
func BenchmarkEvaluate(b *testing.B) {
	now := time.UnixMilli(1_700_000_000_000)
	for _, n := range []int{5, 20, 100, 1000} {
		answers := make([]job.Bid, n)
		rtt := map[string]time.Duration{}
		for i := range answers {
			rate := []job.Credits{rate1, rate2, rate3}[i%3]
			a := job.Bid{
				V: job.Version, Job: evalJob, Provider: fmt.Sprintf("12D3KooWbench%06d", i), Region: "eu-west",
				Rates: job.Rates{CPUHour: rate}, Price: rate / 360, ExpiresMS: now.UnixMilli() + 60_000,
				WaitMS: int64(i % 4),
			}
			switch i % 10 {
			case 3:
				a.Decline, a.Detail, a.Price = job.DeclineBusy, "wants 1 cpu, free 0 cpu", 0
			case 7:
				a.Price++
			}
			answers[i] = a
			rtt[a.Provider] = time.Duration(100+i%37) * time.Microsecond
		}
		est := func(bid *job.Bid) scheduler.Option {
			return scheduler.Option{RTT: rtt[bid.Provider], Wait: time.Duration(bid.WaitMS) * time.Millisecond, Run: 5 * time.Millisecond}
		}
		for _, policy := range []string{job.PolicyCost, job.PolicyLatency, job.PolicyBalanced} {
			b.Run(fmt.Sprintf("answers=%d/%s", n, policy), func(b *testing.B) {
				s := evalSpec()
				p := scheduler.Policy{Name: policy, Weights: job.Weights{Cost: 2, Latency: 1}}
				b.ReportAllocs()
				for b.Loop() {
					ev := scheduler.Evaluate(answers, scheduler.Checks(evalJob, s, now), p, est)
					if len(ev.Ranked) == 0 {
						b.Fatal("nothing ranked")
					}
				}
			})
		}
	}
}
