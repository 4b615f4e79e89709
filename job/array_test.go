package job_test

import (
	"strings"
	"testing"

	"github.com/computemesh/computemesh/job"
)

func TestArraySpecValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(s *job.Spec)
		wantErr string // "" for valid
	}{
		{"count 0: one job", func(s *job.Spec) { s.Count = 0 }, ""},
		{"count 1: one job", func(s *job.Spec) { s.Count = 1 }, ""},
		{"an array", func(s *job.Spec) { s.Count = 100 }, ""},
		{"the bound", func(s *job.Spec) { s.Count = job.MaxCount }, ""},
		{"over the bound", func(s *job.Spec) { s.Count = job.MaxCount + 1 }, "count: 10001 is out of range (0 to 10000)"},
		{"negative", func(s *job.Spec) { s.Count = -1 }, "count: -1 is out of range"},
		{"with replicas", func(s *job.Spec) { s.Count, s.Replicas = 4, 3 }, "count: a job array (count 4) cannot also have replicas"},
		{"one job may set the index variable", func(s *job.Spec) { s.Env = map[string]string{job.TaskIndexEnv: "1"} }, ""},
		{"an array may not", func(s *job.Spec) { s.Count, s.Env = 2, map[string]string{job.TaskIndexEnv: "1"} }, "env: " + job.TaskIndexEnv},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testSpec()
			tt.mutate(s)
			err := s.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Validate: %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestArrayIDCoversCount(t *testing.T) {
	one, arr := testSpec(), testSpec()
	arr.Count = 10
	if job.NewID(one, testClient, testNonce) == job.NewID(arr, testClient, testNonce) {
		t.Fatal("a spec and its array of 10 have one job ID")
	}
	if one.CID() == arr.CID() {
		t.Fatal("a spec and its array of 10 have one spec CID")
	}
}

// arrayAward is testAward made an array of count tasks with slice.
func arrayAward(count int, slice []int) *job.Award {
	a := testAward()
	a.Spec.Count = count
	a.Job = job.NewID(&a.Spec, testClient, testNonce).String()
	a.Bid.Job, a.Tasks = a.Job, slice
	return a
}

func TestArrayWireValidate(t *testing.T) {
	tests := []struct {
		name    string
		v       interface{ Validate() error }
		wantErr string
	}{
		{"request of an array", func() *job.Request { r := testRequest(); r.Count = 50; return r }(), ""},
		{"request over the bound", func() *job.Request { r := testRequest(); r.Count = job.MaxCount + 1; return r }(), "count: 10001"},
		{"request negative", func() *job.Request { r := testRequest(); r.Count = -2; return r }(), "count: -2"},
		{"bid for a slice", func() *job.Bid { b := testBid(); b.Tasks = 8; return b }(), ""},
		{"bid over the bound", func() *job.Bid { b := testBid(); b.Tasks = job.MaxCount + 1; return b }(), "tasks: 10001"},
		{"bid negative", func() *job.Bid { b := testBid(); b.Tasks = -1; return b }(), "tasks: -1"},
		{"award of a slice", arrayAward(8, []int{0, 3, 7}), ""},
		{"award of the whole array", arrayAward(3, []int{0, 1, 2}), ""},
		{"award of an array without a slice", arrayAward(8, nil), "tasks: 0 tasks in the award of an array of 8"},
		{"slice of a job that is not an array", arrayAward(0, []int{0}), "tasks: 1 tasks in the award of a job that is not an array"},
		{"slice beyond the count", arrayAward(8, []int{2, 8}), "tasks[1]: 8"},
		{"slice with a task twice", arrayAward(8, []int{2, 2}), "tasks[1]: 2"},
		{"slice out of order", arrayAward(8, []int{3, 1}), "tasks[1]: 1"},
		{"negative task", arrayAward(8, []int{-1}), "tasks[0]: -1"},
		{"slice longer than the array", arrayAward(2, []int{0, 1, 1}), "tasks: 3 tasks in the award of an array of 2"},
		{"result of a task", &job.Reply{Type: job.ReplyResult, Result: &job.Result{Job: testBid().Job, Task: 9_999}}, ""},
		{"result of a task beyond the bound", &job.Reply{Type: job.ReplyResult, Result: &job.Result{Job: testBid().Job, Task: job.MaxCount}}, "result.task: 10000"},
		{"result of a negative task", &job.Reply{Type: job.ReplyResult, Result: &job.Result{Job: testBid().Job, Task: -1}}, "result.task: -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.v.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Validate: %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestTaskEnv(t *testing.T) {
	env := map[string]string{"A": "1"}
	got := job.TaskEnv(env, 7, 10)
	if got[job.TaskIndexEnv] != "7" || got[job.TaskCountEnv] != "10" || got["A"] != "1" {
		t.Fatalf("TaskEnv = %v", got)
	}
	if len(env) != 1 {
		t.Fatalf("TaskEnv changed its argument: %v", env)
	}
}

func TestTaskOutputCut(t *testing.T) {
	tests := []struct {
		count, want int
	}{
		{count: 2, want: 4 << 10},
		{count: 512, want: 4 << 10},
		{count: 1000, want: 2097},
		{count: job.MaxCount, want: 209},
	}
	for _, tt := range tests {
		if got := job.TaskOutputCut(tt.count); got != tt.want {
			t.Errorf("TaskOutputCut(%d) = %d, want %d", tt.count, got, tt.want)
		}
	}
	out := job.CutOutput([]byte("0123456789"), 4)
	if string(out) != "0123\n[computemesh: output truncated at 4 bytes]\n" {
		t.Fatalf("CutOutput = %q", out)
	}
	if in := []byte("short"); string(job.CutOutput(in, 10)) != "short" {
		t.Fatal("CutOutput changed what was under the cut")
	}
}
