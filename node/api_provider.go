package node

import "github.com/computemesh/computemesh/api"

// ProviderJobs lists the reservations of the node's provider role and the
// jobs queued for capacity (none on a client).
func (b backend) ProviderJobs() (api.ProviderJobs, error) {
	out := api.ProviderJobs{Running: []api.ProviderJob{}, Queued: []string{}}
	if b.n.provider == nil {
		return out, nil
	}
	held, queued := b.n.provider.Reservations().Snapshot()
	for _, h := range held {
		out.Running = append(out.Running, api.ProviderJob{Job: h.ID, Resources: h.Resources})
	}
	out.Queued = append(out.Queued, queued...)
	return out, nil
}
