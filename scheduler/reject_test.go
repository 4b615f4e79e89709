package scheduler_test

import (
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/scheduler"
)

// TestRejectionCodes checks that every rejection carries the code of the
// check it failed, so that a client classifies rejections by code, never by
// their words.
func TestRejectionCodes(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	record := func(string) *job.Capacity { return &job.Capacity{Region: "us-east"} }
	rep := func(string) (float64, bool) { return 0.1, true }
	tests := []struct {
		name  string
		check scheduler.Check // besides the standard ones; nil Test: none
		mut   func(b *job.Bid)
		want  job.RejectReason
	}{
		{"decline", scheduler.Check{}, func(b *job.Bid) { b.Decline = job.DeclineBusy }, job.RejectDeclined},
		{"other job", scheduler.Check{}, func(b *job.Bid) { b.Job = "bafyother" }, job.RejectOtherJob},
		{"expired", scheduler.Check{}, func(b *job.Bid) { b.ExpiresMS = now.Add(-time.Second).UnixMilli() }, job.RejectExpired},
		{"region", scheduler.Check{}, func(b *job.Bid) { b.Region = "us-east" }, job.RejectRegion},
		{"rates", scheduler.Check{}, func(b *job.Bid) { b.Price++ }, job.RejectRates},
		{"max price", scheduler.Check{}, func(b *job.Bid) { b.Rates.CPUHour, b.Price = rate2, rate2/360 }, job.RejectMaxPrice},
		{"capacity", scheduler.Fits(job.Need{Region: "eu-*"}, record), nil, job.RejectCapacity},
		{"reputation", scheduler.MinReputation(0.5, rep), nil, job.RejectReputation},
		{"deadline", scheduler.MeetsDeadline(now.Add(time.Second), now, func(*job.Bid) time.Duration { return time.Minute }), nil, job.RejectDeadline},
		{"passes", scheduler.Check{}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := evalSpec()
			s.MaxPrice = rate1 / 360
			b := goodBid("p", rate1)
			if tt.mut != nil {
				tt.mut(&b)
			}
			checks := scheduler.Checks(evalJob, s, now)
			if tt.check.Test != nil {
				checks = append(checks, tt.check)
			}
			ev := scheduler.Evaluate([]job.Bid{b}, checks, scheduler.Policy{Name: job.PolicyCost}, nil)
			if tt.want == "" {
				if len(ev.Rejected) != 0 {
					t.Fatalf("rejected: %+v", ev.Rejected)
				}
				return
			}
			if len(ev.Rejected) != 1 || ev.Rejected[0].Code != tt.want || ev.Rejected[0].Reason == "" {
				t.Fatalf("rejected %+v, want one rejection with code %s and a reason", ev.Rejected, tt.want)
			}
		})
	}
}
