package client

import (
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
)

// The backlog counts the awards sent after a bid arrived and not yet
// finished, and turns them into time with the provider's slots and the
// run time it knows.
func TestBacklogOf(t *testing.T) {
	t0 := time.UnixMilli(1_700_000_000_000)
	spec := &job.Spec{Resources: job.Resources{CPUMillis: 1000, MemoryBytes: 1 << 30}, TimeoutMS: 60_000}
	rec := &job.Capacity{Total: job.Resources{CPUMillis: 2000, MemoryBytes: 8 << 30}}
	tests := []struct {
		name       string
		sent       []time.Duration // awards to "p" at t0 + each, in seconds
		finished   int             // the first this many finished
		runs       []time.Duration // reported by the finished ones
		since      time.Duration   // the bid arrived at t0 + since, in seconds
		rec        *job.Capacity
		estimate   time.Duration
		wantUnseen int
		wantFlight int
		wantSlots  int
		wantRun    time.Duration
	}{
		{"nothing sent", nil, 0, nil, 0, rec, 0, 0, 0, 2, 30 * time.Second},
		{"sent before the bid arrived: in flight, maybe in the bid", []time.Duration{1, 2}, 0, nil, 3, rec, 0, 0, 2, 2, 30 * time.Second},
		{"sent after: unseen", []time.Duration{1, 5, 6}, 0, nil, 3, rec, 0, 2, 3, 2, 30 * time.Second},
		{"finished ones leave it", []time.Duration{5, 6, 7}, 2, []time.Duration{4 * time.Second, 8 * time.Second}, 3, rec, 0, 1, 1, 2, 5 * time.Second},
		{"the job's estimate before what was measured", []time.Duration{5}, 1, []time.Duration{time.Second}, 3, rec, 7 * time.Second, 0, 0, 2, 7 * time.Second},
		{"no record: one slot", []time.Duration{5}, 0, nil, 3, nil, 0, 1, 1, 1, 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBacklog()
			var dones []func(time.Duration)
			for _, d := range tt.sent {
				dones = append(dones, b.award("p", t0.Add(d*time.Second)))
			}
			for i := range tt.finished {
				run := time.Duration(0)
				if i < len(tt.runs) {
					run = tt.runs[i]
				}
				dones[i](run)
				dones[i](time.Hour) // a second call changes nothing
			}
			bl := b.of("p", t0.Add(tt.since*time.Second), tt.rec, spec, tt.estimate)
			if bl.Unseen != tt.wantUnseen || bl.InFlight != tt.wantFlight || bl.Slots != tt.wantSlots || bl.Run != tt.wantRun {
				t.Fatalf("backlog %+v, want unseen %d, in flight %d, slots %d, run %v", bl, tt.wantUnseen, tt.wantFlight, tt.wantSlots, tt.wantRun)
			}
			if other := b.of("q", t0, tt.rec, spec, tt.estimate); other.Unseen != 0 || other.InFlight != 0 {
				t.Fatalf("another provider's backlog %+v, want nothing unseen", other)
			}
		})
	}
}

// Once every award has finished, nothing is left in the backlog's map.
func TestBacklogForgetsFinished(t *testing.T) {
	b := newBacklog()
	t0 := time.Now()
	d1, d2 := b.award("p", t0), b.award("p", t0) // the same instant twice
	d1(0)
	if n := len(b.sent["p"]); n != 1 {
		t.Fatalf("%d awards left after one of two finished", n)
	}
	d2(0)
	if len(b.sent) != 0 {
		t.Fatalf("sent %v, want empty", b.sent)
	}
}
