package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/computemesh/computemesh/job"
)

// report prints the outcome and returns the exit status it calls for.
func report(stdout, stderr io.Writer, out *job.Outcome, asJSON bool) error {
	if len(out.Tasks) > 0 {
		return reportArray(stdout, stderr, out, asJSON)
	}
	if asJSON {
		_ = json.NewEncoder(stdout).Encode(submitOutput{
			Job: out.Job, State: out.State, Provider: out.Provider, Region: out.Region,
			Price: out.Price.Float(), Charge: out.Charge.Float(), Bids: out.Bids, Declines: out.Declines,
			Candidates: out.Candidates, Attempts: out.Attempts, Reason: out.Reason, ExitCode: out.ExitCode,
			Stdout: string(out.Stdout), Stderr: string(out.Stderr), Error: out.Error, Timings: out.Timings, Outputs: out.Outputs,
			CPUSeconds: out.CPUSeconds, GPUSeconds: out.GPUSeconds,
		})
	} else {
		_, _ = stdout.Write(out.Stdout)
		_, _ = stderr.Write(out.Stderr)
		switch out.State {
		case job.StateCompleted:
			fmt.Fprintf(stderr, "job %s completed on %s (%s) in %.1fms: exit %d, charged %s credits (bid %s)\n",
				short(out.Job), short(out.Provider), out.Region, out.Timings.Total, out.ExitCode, out.Charge, out.Price)
			if out.Outputs != "" {
				fmt.Fprintf(stderr, "outputs %s (meshnode get %s -o DIR)\n", out.Outputs, out.Outputs)
			}
		default:
			fmt.Fprintf(stderr, "job %s %s: %s\n", short(out.Job), out.State, out.Error)
		}
	}
	switch {
	case out.State == job.StateCompleted && out.ExitCode == 0:
		return nil
	case out.State == job.StateUnscheduled:
		return silentExit(exitUnscheduled)
	case out.State == job.StateFailed && out.Provider == "":
		return silentExit(exitNetwork) // no provider could run it
	default:
		return silentExit(exitJobFailed)
	}
}

// deadline turns a wait into a deadline (zero: none).
func deadline(wait time.Duration) time.Time {
	if wait <= 0 {
		return time.Time{}
	}
	return time.Now().Add(wait)
}
