package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/store"
)

// taskOutput is the --json form of one task of a job array: one line each.
type taskOutput struct {
	Job      string    `json:"job"`
	Index    int       `json:"index"`
	State    job.State `json:"state"`
	ExitCode int       `json:"exit_code"`
	Provider string    `json:"provider,omitempty"`
	Charge   float64   `json:"charge"`
	Attempts int       `json:"attempts"`
	Stdout   string    `json:"stdout"`
	Stderr   string    `json:"stderr"`
	Error    string    `json:"error,omitempty"`
	Outputs  string    `json:"outputs,omitempty"`
	RunMS    float64   `json:"run_ms,omitempty"`
}

// arrayOutput is the --json summary of a job array, after its tasks' lines.
type arrayOutput struct {
	Job       string            `json:"job"`
	State     job.State         `json:"state"`
	Count     int               `json:"count"`
	States    map[job.State]int `json:"states"`
	Providers map[string]int    `json:"providers"`
	Charge    float64           `json:"charge"`
	Attempts  int               `json:"attempts"`
	Error     string            `json:"error,omitempty"`
	TasksPerS float64           `json:"tasks_per_s"`
	Timings   job.Timings       `json:"timings_ms"`
}

// reportArray prints a job array's outcome: each task's stdout in index
// order and a summary (tasks by state and by provider, tasks/s) on stderr;
// with --json one line per task, then the summary. It returns the exit
// status: 0 when every task completed.
func reportArray(stdout, stderr io.Writer, out *job.Outcome, asJSON bool) error {
	states := job.TaskCounts(out.Tasks)
	providers := map[string]int{}
	for _, t := range out.Tasks {
		if t.Provider != "" && t.State != job.StateUnscheduled {
			providers[t.Provider]++
		}
	}
	rate := 0.0
	if out.Timings.Total > 0 {
		rate = float64(len(out.Tasks)) / (out.Timings.Total / 1000)
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		for _, t := range out.Tasks {
			_ = enc.Encode(taskOutput{Job: out.Job, Index: t.Index, State: t.State, ExitCode: t.ExitCode, Provider: t.Provider,
				Charge: t.Charge.Float(), Attempts: t.Attempts, Stdout: string(t.Stdout), Stderr: string(t.Stderr), Error: t.Error,
				Outputs: t.Outputs, RunMS: t.RunMS})
		}
		_ = enc.Encode(arrayOutput{Job: out.Job, State: out.State, Count: len(out.Tasks), States: states, Providers: providers,
			Charge: out.Charge.Float(), Attempts: out.Attempts, Error: out.Error, TasksPerS: rate, Timings: out.Timings})
	} else {
		for _, t := range out.Tasks {
			_, _ = stdout.Write(t.Stdout)
			_, _ = stderr.Write(t.Stderr)
		}
		fmt.Fprintf(stderr, "job %s: %d tasks %s on %d providers in %.1fms (%.0f tasks/s), %d awards, charged %s credits\n",
			short(out.Job), len(out.Tasks), stateSummary(states), len(providers), out.Timings.Total, rate, out.Attempts, out.Charge)
		if out.Error != "" {
			fmt.Fprintf(stderr, "job %s %s: %s\n", short(out.Job), out.State, out.Error)
		}
	}
	switch out.State {
	case job.StateCompleted:
		return nil
	case job.StateUnscheduled:
		return silentExit(exitUnscheduled)
	default:
		return silentExit(exitJobFailed)
	}
}

// stateSummary says how many tasks are in each state ("98 completed, 2
// failed").
func stateSummary(states map[job.State]int) string {
	var parts []string
	for _, s := range slices.Sorted(maps.Keys(states)) {
		parts = append(parts, fmt.Sprintf("%d %s", states[s], s))
	}
	return strings.Join(parts, ", ")
}

// describeTasksMax is how many tasks job describe lists one by one; past
// it, the tasks are summarised by state and provider, and only those that
// did not complete are listed (up to this many).
const describeTasksMax = 20

// describeTasks prints a job array's tasks, summarised when many: those of
// its outcome, or, while it runs (or waits to resume), those of its count
// that have ended so far.
func describeTasks(w io.Writer, tasks []job.TaskResult, count int) {
	if len(tasks) == 0 {
		return
	}
	fmt.Fprintln(w)
	states := job.TaskCounts(tasks)
	providers := map[string]int{}
	for _, t := range tasks {
		if t.Provider != "" {
			providers[t.Provider]++
		}
	}
	if len(tasks) < count {
		fmt.Fprintf(w, "Tasks (%d of %d ended so far: %s)\n", len(tasks), count, stateSummary(states))
	} else {
		fmt.Fprintf(w, "Tasks (%d: %s)\n", len(tasks), stateSummary(states))
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	for _, p := range slices.Sorted(maps.Keys(providers)) {
		fmt.Fprintf(tw, "  provider\t%s\t%d tasks\n", short(p), providers[p])
	}
	listed := 0
	for _, t := range tasks {
		if len(tasks) > describeTasksMax && t.State == job.StateCompleted {
			continue
		}
		if listed++; listed > describeTasksMax {
			fmt.Fprintf(tw, "  …\n")
			break
		}
		fmt.Fprintf(tw, "  #%d\t%s\t%s\texit %d\t%s credits\t%s\n", t.Index, t.State, short(t.Provider), t.ExitCode, t.Charge, t.Error)
	}
	_ = tw.Flush()
}

// writeTaskOutputs exports each task's outputs of a job array to
// dir/INDEX, when asked.
func writeTaskOutputs(ctx context.Context, s *store.Store, out *job.Outcome, dir string) error {
	for _, t := range out.Tasks {
		if t.Outputs == "" {
			continue
		}
		c, err := job.ParseCID(t.Outputs)
		if err != nil {
			return netErr(err)
		}
		if _, _, err := exportCID(ctx, s, c, filepath.Join(dir, strconv.Itoa(t.Index))); err != nil {
			return err
		}
	}
	return nil
}
