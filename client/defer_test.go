package client

import (
	"strings"
	"testing"
	"time"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/scheduler"
)

// A job's record keeps why it waited before its first auction (job
// describe's Deferred line) and each bid's carbon intensity; a node
// closing writes nothing of it.
func TestRecordKeepsDeferralAndCarbon(t *testing.T) {
	now := time.Now()
	r := &api.JobRecord{State: api.JobSubmitted}
	if applyEvent(r, job.Event{Kind: job.EventDeferred, Message: "deferred until 14:00"}, now, true) || r.Deferred != "" {
		t.Fatalf("a closing node recorded the deferral: %+v", r)
	}
	if !applyEvent(r, job.Event{Kind: job.EventDeferred, Message: "deferred until 14:00"}, now, false) ||
		r.Deferred != "deferred until 14:00" || r.State != api.JobDeferred {
		t.Fatalf("deferral not recorded: %+v", r)
	}
	applyEvent(r, job.Event{Kind: job.EventCandidates, Count: 1}, now, false)
	applyEvent(r, job.Event{Kind: job.EventBid, Provider: "p", Price: 5, Carbon: 120}, now, false)
	if b := r.Rounds[0].Answers; len(b) != 1 || b[0].Carbon != 120 || r.State != api.JobAuction {
		t.Fatalf("the round's bid: %+v, state %s", b, r.State)
	}
}

// An auction whose bids all passed the max carbon says so and what to do.
func TestNoBidsMaxCarbon(t *testing.T) {
	s := &job.Spec{MaxCarbon: 10 * job.Milligram, Resources: job.Resources{CPUMillis: 1000, MemoryBytes: 64 << 20}}
	rej := []scheduler.Rejection{{Bid: job.Bid{Provider: "p", Carbon: 700}, Code: job.RejectMaxCarbon,
		Reason: "estimated emissions 19.5 mg (27.8 mWh at 700 g/kWh) are over the max carbon 10 mg"}}
	got := noBids(s, 1, []job.Bid{rej[0].Bid}, rej)
	for _, want := range []string{"max carbon 10 mg", "1 estimated emissions 19.5 mg", "raise --max-carbon, or give --deadline for a greener hour"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
}
