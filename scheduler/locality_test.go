package scheduler

import (
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
)

// The bidder holding a job's IPFS inputs fetches nothing; the others the
// inputs' size as far as it is known, at the bandwidth; a lying Held past
// every other's counts for no more than the most held.
func TestTransfers(t *testing.T) {
	bids := []job.Bid{{Provider: "holder", Held: 100 << 20}, {Provider: "half", Held: 50 << 20}, {Provider: "none"},
		{Provider: "decliner", Decline: job.DeclineRegion, Held: 1 << 40}}
	tr := Transfers(bids, func(string) int64 { return 50 << 20 })
	for i, want := range []time.Duration{0, time.Second, 2 * time.Second, 0} {
		if got := tr(&bids[i]); got != want {
			t.Errorf("%s: %v, want %v", bids[i].Provider, got, want)
		}
	}
	if tr(&job.Bid{Held: -5}) != 2*time.Second {
		t.Error("a negative held counts as none")
	}
}

// Under the latency policy the job goes to its data unless another bidder
// is faster by more than the transfer; the cost policy does not count it.
func TestLatencyCountsTransfer(t *testing.T) {
	near := Option{Bid: job.Bid{Provider: "near", Price: 10, Held: 100 << 20}, RTT: 20 * time.Millisecond}
	far := Option{Bid: job.Bid{Provider: "far", Price: 5}, RTT: time.Millisecond}
	tr := Transfers([]job.Bid{near.Bid, far.Bid}, nil)
	near.Transfer, far.Transfer = tr(&near.Bid), tr(&far.Bid)
	opts := []Option{far, near}
	Policy{Name: job.PolicyLatency}.Score(opts)
	if opts[1].Score >= opts[0].Score {
		t.Fatalf("latency: near %v, far %v (transfer %v): the data's holder should win", opts[1].Score, opts[0].Score, far.Transfer)
	}
	Policy{Name: job.PolicyCost}.Score(opts)
	if opts[0].Score >= opts[1].Score {
		t.Fatal("cost: the cheaper bid should win whatever it holds")
	}
}

// A provider measured faster fetches what it lacks sooner.
func TestTransfersMeasured(t *testing.T) {
	bids := []job.Bid{{Provider: "holder", Held: 100 << 20}, {Provider: "fast"}, {Provider: "slow"}}
	tr := Transfers(bids, func(p string) int64 {
		if p == "fast" {
			return 200 << 20
		}
		return 0 // not measured: DefaultBandwidth
	})
	if got := tr(&bids[1]); got != 500*time.Millisecond {
		t.Errorf("fast: %v, want 500ms", got)
	}
	if got := tr(&bids[2]); got != 2*time.Second {
		t.Errorf("slow: %v, want 2s", got)
	}
}

// A bid that fails the checks sets no one's transfer; a huge Held is no
// overflow.
func TestTransfersFeasibleOnly(t *testing.T) {
	bids := []job.Bid{{Provider: "honest"}, {Provider: "liar", Held: 1 << 40, Decline: "", Price: 1000}}
	tooDear := []Check{{job.RejectMaxPrice, func(b *job.Bid) string {
		if b.Price > 10 {
			return "over the max price"
		}
		return ""
	}}}
	feasible := Feasible(bids, tooDear)
	if len(feasible) != 1 || feasible[0].Provider != "honest" {
		t.Fatalf("feasible: %+v", feasible)
	}
	if got := Transfers(feasible, nil)(&bids[0]); got != 0 {
		t.Fatalf("the honest bid's transfer, set by a rejected bid: %v", got)
	}
	if got := Transfers(bids, func(string) int64 { return 1 })(&bids[0]); got != maxTransfer {
		t.Fatalf("a transfer of a TiB at 1 B/s: %v, want the bound %v", got, maxTransfer)
	}
}
