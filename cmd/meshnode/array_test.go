package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/job"
)

// arrayOutcome is the outcome of an array of n tasks on two providers, the
// tasks in failed failed.
func arrayOutcome(n int, failed ...int) *job.Outcome {
	out := &job.Outcome{Job: "bagaaieraarray", State: job.StateCompleted, Attempts: 2, Timings: job.Timings{Total: 500}}
	for i := range n {
		t := job.TaskResult{Index: i, State: job.StateCompleted, Provider: fmt.Sprintf("12D3KooWprov%d", i%2), Charge: 10,
			Stdout: fmt.Appendf(nil, "task %d\n", i), Attempts: 1}
		out.Tasks = append(out.Tasks, t)
		out.Charge += t.Charge
	}
	for _, i := range failed {
		out.Tasks[i].State, out.Tasks[i].ExitCode, out.Tasks[i].Error = job.StateFailed, 3, "the task exited with code 3"
		out.State = job.StateFailed
	}
	return out
}

func TestReportArray(t *testing.T) {
	tests := []struct {
		name     string
		out      *job.Outcome
		asJSON   bool
		wantExit int // -1: none
		stdout   []string
		stderr   []string
		lines    int // JSON lines on stdout
	}{
		{name: "text, all completed", out: arrayOutcome(3), wantExit: -1, stdout: []string{"task 0\ntask 1\ntask 2\n"},
			stderr: []string{"3 tasks 3 completed on 2 providers", "(6 tasks/s), 2 awards"}},
		{name: "text, one failed", out: arrayOutcome(4, 2), wantExit: exitJobFailed, stderr: []string{"3 completed, 1 failed"}},
		{name: "json, a line per task and the summary", out: arrayOutcome(3, 1), asJSON: true, wantExit: exitJobFailed, lines: 4,
			stdout: []string{`"index":1,"state":"failed","exit_code":3`, `"count":3,"states":{"completed":2,"failed":1}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := report(&stdout, &stderr, tt.out, tt.asJSON)
			var code silentExit
			switch {
			case tt.wantExit < 0 && err != nil:
				t.Fatalf("report: %v", err)
			case tt.wantExit >= 0 && (!errors.As(err, &code) || int(code) != tt.wantExit):
				t.Fatalf("report: %v, want exit %d", err, tt.wantExit)
			}
			for _, w := range tt.stdout {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout %q lacks %q", stdout.String(), w)
				}
			}
			for _, w := range tt.stderr {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr %q lacks %q", stderr.String(), w)
				}
			}
			if tt.lines > 0 {
				lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
				if len(lines) != tt.lines {
					t.Fatalf("%d JSON lines, want %d", len(lines), tt.lines)
				}
				for _, l := range lines {
					if !json.Valid([]byte(l)) {
						t.Fatalf("not a JSON line: %s", l)
					}
				}
			}
		})
	}
}

func TestDescribeTasksSummarisesMany(t *testing.T) {
	tests := []struct {
		name   string
		out    *job.Outcome
		want   []string
		absent []string
	}{
		{name: "few: every task", out: arrayOutcome(3), want: []string{"Tasks (3: 3 completed)", "#0", "#2"}},
		{name: "many: the failed ones", out: arrayOutcome(100, 57), want: []string{"Tasks (100: 99 completed, 1 failed)", "#57", "50 tasks"},
			absent: []string{"#0 ", "#56"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			describeTasks(&b, tt.out.Tasks, len(tt.out.Tasks))
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("%q lacks %q", b.String(), w)
				}
			}
			for _, w := range tt.absent {
				if strings.Contains(b.String(), w) {
					t.Errorf("%q has %q", b.String(), w)
				}
			}
		})
	}
}

// An array that waits to resume (or runs again after a restart) shows the
// tasks its record kept, out of its count; once it ends, its outcome's.
func TestDescribeResumedArray(t *testing.T) {
	done := arrayOutcome(10)
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	r := &api.JobRecord{V: 1, ID: done.Job, State: api.JobResumed, Submitted: at, Resumes: 1, Attempted: 2,
		Spec:  job.Spec{Executor: job.ExecutorExec, Command: "/bin/sh", Count: 10},
		Tasks: []job.TaskResult{done.Tasks[0], done.Tasks[2], done.Tasks[5], done.Tasks[9]}}
	var b bytes.Buffer
	describeJob(&b, r, at.Add(time.Minute))
	for _, w := range []string{"Tasks (4 of 10 ended so far: 4 completed)", "#5", "#9"} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("unfinished: %q lacks %q", b.String(), w)
		}
	}
	if strings.Contains(b.String(), "#1 ") {
		t.Errorf("unfinished: %q lists task 1, which has not ended", b.String())
	}
	r.Tasks, r.Outcome, r.State, r.Finished = nil, done, job.StateCompleted, at.Add(time.Minute)
	b.Reset()
	describeJob(&b, r, at.Add(time.Minute))
	if !strings.Contains(b.String(), "Tasks (10: 10 completed)") || strings.Contains(b.String(), "so far") {
		t.Errorf("finished: %q", b.String())
	}
}
