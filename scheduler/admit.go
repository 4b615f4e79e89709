package scheduler

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/market"
)

// Offer is what a provider offers the mesh.
type Offer struct {
	Region    string
	Rates     job.Rates
	Executors []string
	Capacity  job.Resources // the most it runs at once (GPUs: how many)
	GPUs      []job.GPU     // the GPUs it has (real or simulated)
	// Operator controls: at most MaxJobs at once (0: no limit but the
	// capacity); clients on Deny, or not on a non-empty Allow, are declined.
	MaxJobs int
	Allow   []string
	Deny    []string
}

// Admit decides a provider's answer to a request given what is free now: a
// bid with its price, or a decline with a reason code and detail.
func Admit(o *Offer, r *job.Request, free job.Resources, running int) job.Bid {
	b := job.Bid{V: job.Version, Job: r.Job, Rates: o.Rates, Region: o.Region}
	decline := func(code, format string, a ...any) job.Bid {
		b.Decline, b.Detail = code, fmt.Sprintf(format, a...)
		return b
	}
	if slices.Contains(o.Deny, r.Client) || (len(o.Allow) > 0 && !slices.Contains(o.Allow, r.Client)) {
		return decline(job.DeclineClient, "this provider does not serve client %s", r.Client)
	}
	if o.MaxJobs > 0 && running >= o.MaxJobs {
		return decline(job.DeclineBusy, "%d jobs running, the most it runs at once", running)
	}
	if !slices.Contains(o.Executors, r.Executor) {
		return decline(job.DeclineExecutor, "executor %s not offered", r.Executor)
	}
	if !r.RegionAllowed(o.Region) {
		if !job.RegionMatches(r.Region, o.Region) {
			return decline(job.DeclineRegion, "region %s does not match %s", o.Region, r.Region)
		}
		return decline(job.DeclineRegion, "region %s is excluded (not %s)", o.Region, strings.Join(r.NotRegions, ", "))
	}
	offered := job.Capacity{Region: o.Region, Executors: o.Executors, Total: o.Capacity, GPUs: o.GPUs}
	if why := offered.Mismatch(r.Resources.Need()); why != "" {
		return decline(job.DeclineResources, "%s (offers at most %s)", why, o.Capacity)
	}
	if r.Resources.CPUMillis > free.CPUMillis || r.Resources.MemoryBytes > free.MemoryBytes || r.Resources.GPUs > free.GPUs {
		return decline(job.DeclineBusy, "wants %s, free %s", r.Resources, free)
	}
	p, err := market.Price(o.Rates, r.Resources, r.Timeout())
	if err != nil {
		return decline(job.DeclinePrice, "%v", err)
	}
	if r.MaxPrice > 0 && p > r.MaxPrice {
		if p == o.Rates.Floor {
			return decline(job.DeclinePrice, "price floor %s over max %s", p, r.MaxPrice)
		}
		return decline(job.DeclinePrice, "price %s over max %s", p, r.MaxPrice)
	}
	b.Price = p
	return b
}

// Reservations tracks the resources a provider has promised to running jobs.
// Safe for concurrent use.
type Reservations struct {
	mu      sync.Mutex
	total   job.Resources
	used    job.Resources
	held    map[string]job.Resources
	maxJobs int
	peak    int // the most reservations held at once
}

// LimitJobs caps how many jobs may hold a reservation at once (0: no cap).
func (r *Reservations) LimitJobs(n int) {
	r.mu.Lock()
	r.maxJobs = n
	r.mu.Unlock()
}

// NewReservations tracks reservations against a total capacity.
func NewReservations(total job.Resources) *Reservations {
	return &Reservations{total: total, held: map[string]job.Resources{}}
}

// Running returns how many jobs hold a reservation.
func (r *Reservations) Running() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.held)
}

// Free returns what is not reserved.
func (r *Reservations) Free() job.Resources {
	r.mu.Lock()
	defer r.mu.Unlock()
	return job.Resources{
		CPUMillis:   r.total.CPUMillis - r.used.CPUMillis,
		MemoryBytes: r.total.MemoryBytes - r.used.MemoryBytes,
		GPUs:        r.total.GPUs - r.used.GPUs,
	}
}

// Reserve holds res for a job, or says why it cannot.
func (r *Reservations) Reserve(id string, res job.Resources) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.held[id]; dup {
		return fmt.Errorf("job %s already holds a reservation", id)
	}
	if r.maxJobs > 0 && len(r.held) >= r.maxJobs {
		return fmt.Errorf("%d jobs running, the most this provider runs at once", len(r.held))
	}
	if r.used.CPUMillis+res.CPUMillis > r.total.CPUMillis || r.used.MemoryBytes+res.MemoryBytes > r.total.MemoryBytes ||
		r.used.GPUs+res.GPUs > r.total.GPUs {
		return fmt.Errorf("not enough free capacity: wants %s, free %g cpu, %s", res,
			float64(r.total.CPUMillis-r.used.CPUMillis)/1000, job.FormatSize(r.total.MemoryBytes-r.used.MemoryBytes))
	}
	r.used.CPUMillis += res.CPUMillis
	r.used.MemoryBytes += res.MemoryBytes
	r.used.GPUs += res.GPUs
	r.held[id] = res
	r.peak = max(r.peak, len(r.held))
	return nil
}

// Peak returns the most jobs that have held a reservation at once since the
// book was made: its high-water mark.
func (r *Reservations) Peak() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.peak
}

// Release returns a job's reservation.
func (r *Reservations) Release(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	res, ok := r.held[id]
	if !ok {
		return
	}
	delete(r.held, id)
	r.used.CPUMillis -= res.CPUMillis
	r.used.MemoryBytes -= res.MemoryBytes
	r.used.GPUs -= res.GPUs
}
