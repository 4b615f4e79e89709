package testnet

import (
	"errors"
	"strings"
	"testing"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/job"
)

// TestCheapestBusy: a smoke job that went elsewhere is excused only when the
// client's own record of its last auction shows the cheapest busy.
func TestCheapestBusy(t *testing.T) {
	round := func(answers []api.RoundBid, rejected ...api.Rejection) *api.JobRecord {
		return &api.JobRecord{Rounds: []api.Round{
			{Answers: []api.RoundBid{{Provider: "cheap", Decline: "busy: queue full", Code: job.DeclineBusy}}},
			{Answers: answers, Rejected: rejected},
		}}
	}
	cases := []struct {
		name string
		rec  *api.JobRecord
		err  error
		want string // a part of the excuse; "" for none
	}{
		{"declined busy", round([]api.RoundBid{{Provider: "cheap", Decline: "busy: 1 jobs queued", Code: job.DeclineBusy}}), nil, "declined: busy: 1 jobs queued"},
		{"bid behind a queue", round([]api.RoundBid{{Provider: "cheap", Price: 5, Queue: 2}}), nil, "behind 2 queued"},
		{"bid rejected", round(nil, api.Rejection{Provider: "cheap", Reason: "waits 30s, past the deadline"}), nil, "rejected: waits 30s"},
		{"bid free and not taken", round([]api.RoundBid{{Provider: "cheap", Price: 5}}), nil, ""},
		{"declined for funds", round([]api.RoundBid{{Provider: "cheap", Decline: "funds", Code: job.DeclineFunds}}), nil, ""},
		{"another provider busy", round([]api.RoundBid{{Provider: "other", Decline: "busy", Code: job.DeclineBusy}}), nil, ""},
		{"only an earlier round busy", round(nil), nil, ""},
		{"no rounds", &api.JobRecord{}, nil, ""},
		{"record unreadable", nil, errors.New("no such job"), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := cheapestBusy(func(string) (*api.JobRecord, error) { return c.rec, c.err }, "job", []string{"cheap"})
			if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
				t.Fatalf("cheapestBusy = %q, want one saying %q", got, c.want)
			}
		})
	}
}
