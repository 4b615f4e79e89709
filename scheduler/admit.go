package scheduler

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

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
	// QueueLimit is how many awarded jobs may wait for capacity when it is
	// full (0: none; a full provider declines busy).
	QueueLimit int
	// GPURates price GPUs by model key ("h100": a rate per GPU-hour); a
	// GPU job is quoted the rate of the model it would get (Rates.GPUHour
	// for models not listed).
	GPURates map[string]job.Credits
	// Surge raises every rate by Surge × the share of CPU already reserved
	// (0: no surge; 1: double at full use).
	Surge float64
	// MaxDiskBytes is the most outputs a job may leave here (0: no limit
	// checked at bidding).
	MaxDiskBytes uint64
}

// State is what a provider has free and queued when a request arrives.
type State struct {
	Free    job.Resources
	Running int
	Queued  int
	// AvgRun is the mean run time of its recent jobs (for the wait
	// estimate of a queued bid).
	AvgRun time.Duration
}

// Admit decides a provider's answer to a request given what is free now: a
// bid with its price, or a decline with a reason code and detail.
func Admit(o *Offer, r *job.Request, free job.Resources, running int) job.Bid {
	return AdmitState(o, r, State{Free: free, Running: running})
}

// AdmitState is Admit with the provider's queue: when it is full now but its
// queue has room, it bids with the job's queue position and an estimate of
// the wait (position × mean run time / jobs running). It runs AdmitChecks
// (see Admission).
func AdmitState(o *Offer, r *job.Request, st State) job.Bid {
	return Admission{}.Admit(o, r, st)
}

// quote returns the rates a request is quoted: the GPU rate of the model it
// would get, and every rate raised by the surge for what is reserved now.
func (o *Offer) quote(r *job.Request, free job.Resources) job.Rates {
	rates := o.Rates
	if r.Resources.GPUs > 0 || r.Resources.GPUModel != "" {
		for _, g := range o.GPUs {
			if !job.ModelMatches(r.Resources.GPUModel, g.Model) || g.VRAMBytes < r.Resources.GPUVRAMBytes {
				continue
			}
			// The most specific listed key that names this model wins
			// ("h100-80gb" over "h100").
			best := ""
			for key, rate := range o.GPURates {
				if job.ModelMatches(key, g.Model) && (len(key) > len(best) || len(key) == len(best) && key < best) {
					best, rates.GPUHour = key, rate
				}
			}
			break
		}
	}
	if o.Surge > 0 && o.Capacity.CPUMillis > 0 {
		used := float64(o.Capacity.CPUMillis-free.CPUMillis) / float64(o.Capacity.CPUMillis)
		rates = market.Surged(rates, o.Surge, used)
	}
	return rates
}

// Reservations tracks the resources a provider has promised to running jobs.
// Safe for concurrent use.
type Reservations struct {
	mu      sync.Mutex
	total   job.Resources
	used    job.Resources
	held    map[string]job.Resources
	maxJobs int
	peak    int           // the most reservations held at once
	queue   []string      // jobs waiting for capacity, first in first out
	changed chan struct{} // closed and replaced when a reservation is released or the queue moves
}

// LimitJobs caps how many jobs may hold a reservation at once (0: no cap).
func (r *Reservations) LimitJobs(n int) {
	r.mu.Lock()
	r.maxJobs = n
	r.mu.Unlock()
}

// NewReservations tracks reservations against a total capacity.
func NewReservations(total job.Resources) *Reservations {
	return &Reservations{total: total, held: map[string]job.Resources{}, changed: make(chan struct{})}
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
	if len(r.queue) > 0 {
		return fmt.Errorf("%d jobs are queued for capacity", len(r.queue))
	}
	return r.reserveLocked(id, res)
}

func (r *Reservations) reserveLocked(id string, res job.Resources) error {
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
	r.signalLocked()
}

func (r *Reservations) signalLocked() {
	close(r.changed)
	r.changed = make(chan struct{})
}

// Queued returns how many jobs wait for capacity.
func (r *Reservations) Queued() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.queue)
}

// Wait reserves res for a job, waiting in a first-in-first-out queue of at
// most limit jobs when it does not fit now. queued is called with the job's
// position when it has to wait. It returns an error, without waiting, when
// the job can never fit, the queue is full or the job holds a reservation
// already; ctx's error when ctx ends first (the job leaves the queue).
func (r *Reservations) Wait(ctx context.Context, id string, res job.Resources, limit int, queued func(position int)) error {
	r.mu.Lock()
	if len(r.queue) == 0 {
		err := r.reserveLocked(id, res)
		if err == nil {
			r.mu.Unlock()
			return nil
		}
		if _, dup := r.held[id]; dup {
			r.mu.Unlock()
			return err
		}
	}
	if res.CPUMillis > r.total.CPUMillis || res.MemoryBytes > r.total.MemoryBytes || res.GPUs > r.total.GPUs {
		r.mu.Unlock()
		return fmt.Errorf("wants %s, more than this provider's whole capacity", res)
	}
	if len(r.queue) >= limit || slices.Contains(r.queue, id) {
		n := len(r.queue)
		r.mu.Unlock()
		return fmt.Errorf("full: %d jobs running, %d queued (queue limit %d)", r.Running(), n, limit)
	}
	r.queue = append(r.queue, id)
	pos := len(r.queue)
	r.mu.Unlock()
	if queued != nil {
		queued(pos)
	}
	for {
		r.mu.Lock()
		if r.queue[0] == id && r.reserveLocked(id, res) == nil {
			r.queue = r.queue[1:]
			r.signalLocked() // the next in line may fit too
			r.mu.Unlock()
			return nil
		}
		ch := r.changed
		r.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			r.mu.Lock()
			if i := slices.Index(r.queue, id); i >= 0 {
				r.queue = slices.Delete(r.queue, i, i+1)
				r.signalLocked()
			}
			r.mu.Unlock()
			return ctx.Err()
		}
	}
}

// Held is one job's reservation.
type Held struct {
	ID        string
	Resources job.Resources
}

// Snapshot lists the reservations held, by ID, and the jobs queued for
// capacity, first in line first.
func (r *Reservations) Snapshot() (held []Held, queued []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, res := range r.held {
		held = append(held, Held{ID: id, Resources: res})
	}
	slices.SortFunc(held, func(a, b Held) int { return strings.Compare(a.ID, b.ID) })
	return held, slices.Clone(r.queue)
}
