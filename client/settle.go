package client

import (
	"context"
	"fmt"
	"time"

	"github.com/computemesh/computemesh/content"
	"github.com/computemesh/computemesh/job"
)

// settle turns a provider's result into the job's outcome: the charge, the
// output, the outputs fetched to this node, and the state.
func (c *Client) settle(ctx context.Context, s *job.Spec, provider string, res *job.Result, out *job.Outcome) {
	out.Charge, out.ExitCode, out.Stdout, out.Stderr = res.Charge, res.ExitCode, res.Stdout, res.Stderr
	out.CPUSeconds, out.GPUSeconds, out.PeakMemoryBytes = res.CPUSeconds, res.GPUSeconds, res.PeakMemoryBytes
	// The provider's run time, at most the job's timeout (a larger one
	// would be a lie or an overflow).
	run := time.Duration(min(max(res.RunMS, 0), float64(s.TimeoutMS)) * float64(time.Millisecond))
	out.Emissions = job.Emissions(job.Energy(s.Resources, run), out.Carbon)
	if res.Outputs != "" {
		budget, start := content.OutputsBudget(s.Resources.DiskBytes), time.Now()
		left := budget.Left()
		fetch := c.content.Fetch
		if s.Publish {
			fetch = c.content.FetchFrom // every block from the provider: see publishOutputs
		}
		if err := fetch(ctx, mustPeer(provider), res.Outputs, budget); err != nil {
			out.State, out.Error = job.StateFailed, "fetching the outputs: "+err.Error()
			return
		}
		c.bandwidth.note(provider, left-budget.Left(), time.Since(start))
		out.Outputs = res.Outputs
		if s.Publish {
			c.publishOutputs(ctx, s, res.Outputs)
		}
	}
	switch {
	case res.TimedOut:
		out.State, out.Error = job.StateTimeout, fmt.Sprintf("the job ran past its timeout of %v", s.Timeout())
	case res.MemoryExceeded:
		out.State, out.Error = job.StateFailed, fmt.Sprintf("memory limit exceeded (%s; exit code %d)", job.FormatSize(s.Resources.MemoryBytes), res.ExitCode)
	case res.DiskExceeded:
		out.State, out.Error = job.StateFailed, fmt.Sprintf("disk limit exceeded: the job's outputs reached resources.disk (%s) or the provider's limit", job.FormatSize(uint64(content.OutputLimit(s.Resources.DiskBytes))))
	case res.ExitCode != 0:
		out.State, out.Error = job.StateFailed, fmt.Sprintf("the job exited with code %d", res.ExitCode)
	default:
		out.State, out.Error = job.StateCompleted, ""
	}
}
