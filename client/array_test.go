package client

import (
	"strings"
	"testing"

	"github.com/computemesh/computemesh/job"
)

func TestArraySummarise(t *testing.T) {
	tests := []struct {
		name      string
		states    []job.State
		want      job.State
		wantError string
	}{
		{name: "every task completed", states: []job.State{job.StateCompleted, job.StateCompleted}, want: job.StateCompleted},
		{name: "one failed", states: []job.State{job.StateCompleted, job.StateFailed, job.StateCompleted}, want: job.StateFailed,
			wantError: "2 of 3 tasks completed, 1 failed; task 1: boom"},
		{name: "none placed", states: []job.State{job.StateUnscheduled, job.StateUnscheduled}, want: job.StateUnscheduled,
			wantError: "0 of 2 tasks completed, 2 unscheduled"},
		{name: "cancelled before any ran", states: []job.State{job.StateCancelled, job.StateUnscheduled}, want: job.StateCancelled},
		{name: "cancelled after some ran", states: []job.State{job.StateCompleted, job.StateCancelled}, want: job.StateCancelled,
			wantError: "1 of 2 tasks completed, 1 cancelled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			arr := newArrayRun(&job.Spec{Count: len(tt.states)})
			for i, st := range tt.states {
				arr.tasks[i].State, arr.tasks[i].Charge = st, 5
				if st != job.StateCompleted {
					arr.tasks[i].Error = "boom"
				}
			}
			out := &job.Outcome{}
			arr.summarise(out)
			if out.State != tt.want || !strings.Contains(out.Error, tt.wantError) {
				t.Fatalf("state %s, error %q; want %s, %q", out.State, out.Error, tt.want, tt.wantError)
			}
			if out.Charge != job.Credits(5*len(tt.states)) || len(out.Tasks) != len(tt.states) {
				t.Fatalf("charge %s over %d tasks", out.Charge, len(out.Tasks))
			}
		})
	}
}
