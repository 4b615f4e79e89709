package scheduler_test

import (
	"strings"
	"testing"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/market"
	"github.com/computemesh/computemesh/scheduler"
)

func TestAdmitOperatorControls(t *testing.T) {
	const client = "12D3KooWClient"
	req := func(max job.Credits) *job.Request {
		return &job.Request{V: job.Version, Job: "j", Client: client, Executor: job.ExecutorWASM,
			Resources: job.Resources{CPUMillis: 1000, MemoryBytes: 1 << 20}, TimeoutMS: 1000, MaxPrice: max}
	}
	base := scheduler.Offer{Region: "eu-west", Rates: job.Rates{CPUHour: job.Nano}, Executors: []string{job.ExecutorWASM},
		Capacity: job.Resources{CPUMillis: 4000, MemoryBytes: 1 << 30}}
	free := base.Capacity
	tests := []struct {
		name      string
		mut       func(*scheduler.Offer)
		max       job.Credits
		running   int
		code      job.DeclineReason
		detail    string
		wantPrice job.Credits
	}{
		{name: "denied client", mut: func(o *scheduler.Offer) { o.Deny = []string{client} }, code: job.DeclineClient, detail: "does not serve"},
		{name: "not on the allow list", mut: func(o *scheduler.Offer) { o.Allow = []string{"12D3KooWOther"} }, code: job.DeclineClient},
		{name: "on the allow list", mut: func(o *scheduler.Offer) { o.Allow = []string{client} }},
		{name: "at max jobs", mut: func(o *scheduler.Offer) { o.MaxJobs = 2 }, running: 2, code: job.DeclineBusy, detail: "2 jobs running"},
		{name: "under max jobs", mut: func(o *scheduler.Offer) { o.MaxJobs = 2 }, running: 1},
		{name: "floor lifts a small price", mut: func(o *scheduler.Offer) { o.Rates.Floor = job.Nano / 100 }, wantPrice: job.Nano / 100},
		{name: "floor above max", mut: func(o *scheduler.Offer) { o.Rates.Floor = job.Nano }, max: job.Nano / 2, code: job.DeclinePrice, detail: "price floor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := base
			if tt.mut != nil {
				tt.mut(&o)
			}
			b := scheduler.Admit(&o, req(tt.max), free, tt.running)
			if b.Decline != tt.code || !strings.Contains(b.Detail, tt.detail) {
				t.Fatalf("answer %q (%s), want %q containing %q", b.Decline, b.Detail, tt.code, tt.detail)
			}
			if tt.code != "" {
				return
			}
			want, _ := market.Price(o.Rates, req(0).Resources, req(0).Timeout())
			if b.Price != want || (tt.wantPrice != 0 && b.Price != tt.wantPrice) {
				t.Fatalf("price %s, want %s", b.Price, want)
			}
		})
	}
}

func TestReservationsLimitJobs(t *testing.T) {
	r := scheduler.NewReservations(job.Resources{CPUMillis: 8000, MemoryBytes: 8 << 30})
	r.LimitJobs(2)
	small := job.Resources{CPUMillis: 100, MemoryBytes: 1 << 20}
	for _, id := range []string{"a", "b"} {
		if err := r.Reserve(id, small); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Reserve("c", small); err == nil || !strings.Contains(err.Error(), "2 jobs running") {
		t.Fatalf("third job: %v, want a refusal", err)
	}
	r.Release("a")
	if err := r.Reserve("c", small); err != nil {
		t.Fatalf("after a release: %v", err)
	}
	if r.Running() != 2 {
		t.Fatalf("running %d, want 2", r.Running())
	}
}
