package job

import (
	"fmt"
	"strconv"
)

// Job arrays: one submission of Count tasks (Spec.Count), one auction in
// which providers bid for slices of them (Bid.Tasks), one award per winner
// carrying its slice (Award.Tasks), a result per task on the award stream
// (Result.Task) and one receipt per slice. See docs/ARCHITECTURE.md, "Job
// arrays".

// MaxCount bounds Spec.Count: the tasks of one array.
const MaxCount = 10_000

// The environment variables that give each task of an array its index
// (0 to count-1) and the array's count.
const (
	TaskIndexEnv = "COMPUTEMESH_TASK_INDEX"
	TaskCountEnv = "COMPUTEMESH_TASK_COUNT"
)

// IsArray reports whether s is a job array (Count of 2 or more).
func (s *Spec) IsArray() bool { return s.Count > 1 }

// Tasks is how many tasks s runs: Count for an array, else 1.
func (s *Spec) Tasks() int { return max(s.Count, 1) }

// checkCount checks the array's count, and what an array cannot be.
func (s *Spec) checkCount() error {
	if s.Count < 0 || s.Count > MaxCount {
		return fmt.Errorf("count: %d is out of range (0 to %d)", s.Count, MaxCount)
	}
	if s.IsArray() && s.Replicas > 1 {
		return fmt.Errorf("count: a job array (count %d) cannot also have replicas (%d)", s.Count, s.Replicas)
	}
	if s.IsArray() {
		for _, k := range []string{TaskIndexEnv, TaskCountEnv} {
			if _, ok := s.Env[k]; ok {
				return fmt.Errorf("env: %s is set by the provider for each task of an array", k)
			}
		}
	}
	return nil
}

// TaskEnv returns env with task index of an array of count tasks in it
// (a new map; env is not changed).
func TaskEnv(env map[string]string, index, count int) map[string]string {
	out := make(map[string]string, len(env)+2)
	for k, v := range env {
		out[k] = v
	}
	out[TaskIndexEnv] = strconv.Itoa(index)
	out[TaskCountEnv] = strconv.Itoa(count)
	return out
}

// validateSlice checks an award's slice against its spec: present exactly
// for an array, each index within the count, strictly increasing (no task
// twice).
func (a *Award) validateSlice() error {
	if !a.Spec.IsArray() {
		if len(a.Tasks) > 0 {
			return fmt.Errorf("tasks: %d tasks in the award of a job that is not an array", len(a.Tasks))
		}
		return nil
	}
	if len(a.Tasks) == 0 || len(a.Tasks) > a.Spec.Count {
		return fmt.Errorf("tasks: %d tasks in the award of an array of %d (1 to %d)", len(a.Tasks), a.Spec.Count, a.Spec.Count)
	}
	prev := -1
	for i, t := range a.Tasks {
		if t <= prev || t >= a.Spec.Count {
			return fmt.Errorf("tasks[%d]: %d is out of order, repeated or outside the array (0 to %d)", i, t, a.Spec.Count-1)
		}
		prev = t
	}
	return nil
}

// SliceMax is the most a slice of n tasks may be paid: per is the pay of
// one task (the bid's price, or the second price).
func SliceMax(per Credits, n int) Credits { return per * Credits(max(n, 1)) }

// TaskResult is one task of an array as its outcome reports it.
type TaskResult struct {
	Index    int     `json:"index"`
	State    State   `json:"state"`
	ExitCode int     `json:"exit_code"`
	Provider string  `json:"provider,omitempty"`
	Charge   Credits `json:"charge_nano"`
	Outputs  string  `json:"outputs,omitempty"`
	Stdout   []byte  `json:"stdout,omitempty"`
	Stderr   []byte  `json:"stderr,omitempty"`
	Error    string  `json:"error,omitempty"`
	// Attempts counts the awards that carried this task.
	Attempts int     `json:"attempts"`
	RunMS    float64 `json:"run_ms,omitempty"`
}

// TaskCounts counts an array's tasks by state.
func TaskCounts(tasks []TaskResult) map[State]int {
	n := map[State]int{}
	for _, t := range tasks {
		n[t.State]++
	}
	return n
}

// TaskOutputCut is how much of each task's stdout and of its stderr an
// array of count tasks keeps in its outcome: 4 KiB, less for large arrays
// so that an outcome holds at most about 4 MiB of output in all.
func TaskOutputCut(count int) int { return min(4<<10, (4<<20)/max(2*count, 1)) }

// CutOutput cuts b to n bytes, marking the cut as a job's capped output is.
func CutOutput(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	return append(b[:n:n], fmt.Sprintf("\n[computemesh: output truncated at %d bytes]\n", n)...)
}
