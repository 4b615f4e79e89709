package client

import (
	"slices"
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
			arr := newArrayRun(&job.Spec{Count: len(tt.states)}, nil, nil)
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

// A resumed array places only the tasks without a result: those given
// (one per index, within the count) are kept as they were.
func TestArrayRunKeepsDoneTasks(t *testing.T) {
	done := []job.TaskResult{
		{Index: 3, State: job.StateCompleted, Provider: "p1", Stdout: []byte("three")},
		{Index: 0, State: job.StateFailed, ExitCode: 2, Provider: "p2"},
		{Index: 3, State: job.StateFailed, Provider: "p9"}, // a second result of one index: the first stands
		{Index: 7, State: job.StateCompleted},              // past the count
		{Index: -1, State: job.StateCompleted},
	}
	arr := newArrayRun(&job.Spec{Count: 5}, done, nil)
	if got := arr.takePending(); !slices.Equal(got, []int{1, 2, 4}) {
		t.Fatalf("pending %v, want [1 2 4]", got)
	}
	if tr := arr.tasks[3]; tr.Provider != "p1" || string(tr.Stdout) != "three" || tr.State != job.StateCompleted {
		t.Fatalf("task 3: %+v", tr)
	}
	if tr := arr.tasks[0]; tr.State != job.StateFailed || tr.ExitCode != 2 {
		t.Fatalf("task 0: %+v", tr)
	}
	if tr := arr.tasks[1]; tr.Index != 1 || tr.ExitCode != -1 || tr.State != "" {
		t.Fatalf("task 1, to run: %+v", tr)
	}
	all := newArrayRun(&job.Spec{Count: 2}, []job.TaskResult{{Index: 0, State: job.StateCompleted}, {Index: 1, State: job.StateCompleted}}, nil)
	if all.left() != 0 {
		t.Fatalf("an array whose every task has its result has %d to place", all.left())
	}
	out := &job.Outcome{}
	all.summarise(out)
	if out.State != job.StateCompleted {
		t.Fatalf("state %s: %s", out.State, out.Error)
	}
}
