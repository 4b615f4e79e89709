package scheduler_test

import (
	"slices"
	"testing"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/scheduler"
)

// check is a provider's check that declines with code and detail when
// fail is true, and records that it ran (and the price it saw) in seen.
func check(name string, code job.DeclineReason, detail string, fail bool, seen *[]string, price *job.Credits) scheduler.AdmitCheck {
	return scheduler.AdmitCheck{Name: name, Test: func(a *scheduler.Admitting) (job.DeclineReason, string) {
		*seen = append(*seen, name)
		if price != nil {
			*price = a.Bid.Price
		}
		if fail {
			return code, detail
		}
		return "", ""
	}}
}

func TestAdmitChecksOrder(t *testing.T) {
	var names []string
	for _, c := range scheduler.AdmitChecks() {
		names = append(names, c.Name)
	}
	want := []string{"client", "executor", "region", "resources", "disk", "capacity", "price"}
	if !slices.Equal(names, want) {
		t.Fatalf("AdmitChecks = %v, want %v", names, want)
	}
	// A copy: changing it changes nothing of Admit's.
	cs := scheduler.AdmitChecks()
	cs[0].Test = nil
	if b := scheduler.AdmitState(testOffer(), testReq(), scheduler.State{Free: testOffer().Capacity}); b.Decline != "" {
		t.Fatalf("Admit after changing a copy of its checks: %s (%s)", b.Decline, b.Detail)
	}
}

// The provider's own checks run around Admit's: Before first (a draining
// provider declines whatever the request), After once the bid is priced
// (it sees the price); the first failing check declines, and a decline
// carries no price, queue position or wait.
func TestAdmission(t *testing.T) {
	allFree := testOffer().Capacity
	full := scheduler.State{Free: job.Resources{}, Running: 1}
	tests := []struct {
		name       string
		before     []bool // which Before checks fail
		after      []bool // which After checks fail
		req        func(r *job.Request)
		offer      func(o *scheduler.Offer)
		st         scheduler.State
		wantCode   job.DeclineReason
		wantDetail string
		wantRan    []string
		wantPrice  job.Credits // the price After's first check saw
		wantQueue  int
	}{
		{name: "every check passes: a bid", before: []bool{false}, after: []bool{false, false},
			wantRan: []string{"before0", "after0", "after1"}, wantPrice: 10_000_000},
		{name: "no checks of its own: Admit's", wantPrice: 10_000_000},
		{name: "before declines first, whatever Admit would say", before: []bool{true},
			req:      func(r *job.Request) { r.Region = "us-*" },
			wantCode: job.DeclineBusy, wantDetail: "before0 failed", wantRan: []string{"before0"}},
		{name: "the first failing before check wins", before: []bool{false, true, true}, after: []bool{true},
			wantCode: job.DeclineBusy, wantDetail: "before1 failed", wantRan: []string{"before0", "before1"}},
		{name: "Admit's decline stops the pipeline before After", after: []bool{true},
			req:      func(r *job.Request) { r.Region = "us-*" },
			wantCode: job.DeclineRegion, wantDetail: "region eu-west does not match us-*"},
		{name: "over the max price: price, not After's", after: []bool{true},
			req:      func(r *job.Request) { r.MaxPrice = 1 },
			wantCode: job.DeclinePrice, wantDetail: "price 0.01 over max 0.000000001"},
		{name: "after sees the price and declines", after: []bool{true, true},
			wantCode: job.DeclineImage, wantDetail: "after0 failed", wantRan: []string{"after0"}, wantPrice: 10_000_000},
		{name: "the first failing after check wins", after: []bool{false, true, true},
			wantCode: job.DeclineImage, wantDetail: "after1 failed", wantRan: []string{"after0", "after1"}, wantPrice: 10_000_000},
		{name: "a queued bid keeps its position when After passes", after: []bool{false},
			offer: func(o *scheduler.Offer) { o.QueueLimit = 2 }, st: full,
			wantRan: []string{"after0"}, wantPrice: 10_000_000, wantQueue: 1},
		{name: "a queued bid declined by After has no position", after: []bool{true},
			offer: func(o *scheduler.Offer) { o.QueueLimit = 2 }, st: full,
			wantCode: job.DeclineImage, wantDetail: "after0 failed", wantRan: []string{"after0"}, wantPrice: 10_000_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, r := testOffer(), testReq()
			if tt.offer != nil {
				tt.offer(o)
			}
			if tt.req != nil {
				tt.req(r)
			}
			st := tt.st
			if st == (scheduler.State{}) {
				st.Free = allFree
			}
			var ran []string
			var sawPrice job.Credits
			var p scheduler.Admission
			for i, fail := range tt.before {
				name := "before" + string(rune('0'+i))
				p.Before = append(p.Before, check(name, job.DeclineBusy, name+" failed", fail, &ran, nil))
			}
			for i, fail := range tt.after {
				name := "after" + string(rune('0'+i))
				var price *job.Credits
				if i == 0 {
					price = &sawPrice
				}
				p.After = append(p.After, check(name, job.DeclineImage, name+" failed", fail, &ran, price))
			}
			b := p.Admit(o, r, st)
			if b.Decline != tt.wantCode || b.Detail != tt.wantDetail {
				t.Errorf("answer %q (%q), want %q (%q)", b.Decline, b.Detail, tt.wantCode, tt.wantDetail)
			}
			if !slices.Equal(ran, tt.wantRan) {
				t.Errorf("ran %v, want %v", ran, tt.wantRan)
			}
			if sawPrice != tt.wantPrice && len(tt.after) > 0 && slices.Contains(ran, "after0") {
				t.Errorf("After's first check saw price %s, want %s", sawPrice, tt.wantPrice)
			}
			switch {
			case b.Decline != "" && (b.Price != 0 || b.Queue != 0 || b.WaitMS != 0):
				t.Errorf("a decline with price %s, queue %d, wait %dms", b.Price, b.Queue, b.WaitMS)
			case b.Decline == "" && (b.Price != tt.wantPrice || b.Queue != tt.wantQueue):
				t.Errorf("bid of %s at queue %d, want %s at %d", b.Price, b.Queue, tt.wantPrice, tt.wantQueue)
			}
			if b.Job != r.Job || b.Region != o.Region || b.V != job.Version {
				t.Errorf("answer for job %q from region %q (v%d)", b.Job, b.Region, b.V)
			}
			// Without checks of its own, the pipeline is AdmitState.
			if len(tt.before) == 0 && len(tt.after) == 0 {
				if want := scheduler.AdmitState(o, r, st); b != want {
					t.Errorf("Admission{}.Admit = %+v, AdmitState = %+v", b, want)
				}
			}
		})
	}
}
