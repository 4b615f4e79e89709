package client

import (
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/scheduler"
)

// A round that placed nothing goes on while the mesh is busy (silent
// candidates, busy declines, bids that expired before the auction could
// take them, awards every bidder declined), and ends at once when waiting
// would change nothing (or a provider ran the job and failed).
func TestWaitUntil(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	c := &Client{}
	bid := job.Bid{Provider: "p1", Price: 1}
	tests := []struct {
		name string
		r    round
		busy bool
	}{
		{"candidates silent", round{cands: 3}, true},
		{"a busy decline", round{cands: 3, answers: []job.Bid{{Decline: job.DeclineRegion}, {Decline: job.DeclineBusy}}}, true},
		{"bids expired before the auction took them", round{cands: 3, answers: []job.Bid{bid},
			ev: scheduler.Evaluation{Rejected: []scheduler.Rejection{{Bid: bid, Code: job.RejectExpired, Reason: "bid expired"}}}}, true},
		{"every bidder declined its award", round{cands: 3, answers: []job.Bid{bid},
			ev: scheduler.Evaluation{Ranked: []scheduler.Option{{Bid: bid}}}, lapsed: true}, true},
		{"a bidder failed the job", round{cands: 3, answers: []job.Bid{bid}, ev: scheduler.Evaluation{Ranked: []scheduler.Option{{Bid: bid}}}}, false},
		{"only what waiting cannot change", round{cands: 3, answers: []job.Bid{{Decline: job.DeclineRegion}},
			ev: scheduler.Evaluation{Rejected: []scheduler.Rejection{{Bid: bid, Code: job.RejectMaxPrice}}}}, false},
		{"no candidates", round{}, false},
	}
	for _, tt := range tests {
		until, busy := c.waitUntil(&ticket{start: start}, &tt.r)
		if busy != tt.busy || busy != !until.IsZero() {
			t.Errorf("%s: until %v, busy %v; want busy %v", tt.name, until, busy, tt.busy)
		}
		if busy && !until.Equal(start.Add(DefaultBusyWait)) {
			t.Errorf("%s: waits until %v, want %v", tt.name, until, start.Add(DefaultBusyWait))
		}
	}
}
