package api

import (
	"context"

	"github.com/computemesh/computemesh/job"
)

// ProviderJobs is what a provider runs and has queued (GET
// /v1/provider/jobs): empty on a node that is not a provider.
type ProviderJobs struct {
	Running []ProviderJob `json:"running"`
	// Queued are the IDs of awarded jobs waiting for capacity, first in
	// line first.
	Queued []string `json:"queued"`
}

// ProviderJob is one job holding a reservation of a provider's capacity
// (a job array's slice holds one per task it runs: its ID names the task).
type ProviderJob struct {
	Job       string        `json:"job"`
	Resources job.Resources `json:"resources"`
}

// ProviderJobs returns what the node, as a provider, runs and has queued.
func (c *Client) ProviderJobs(ctx context.Context) (ProviderJobs, error) {
	return get[ProviderJobs](ctx, c, "/v1/provider/jobs")
}
