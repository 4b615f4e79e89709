package sim

import (
	"cmp"
	"slices"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/scheduler"
)

// task is an awarded job on a provider, running or queued.
type task struct {
	job   *Job
	res   job.Resources
	start time.Duration // when it started (running tasks)
	run   time.Duration // how long it really holds its resources
	est   time.Duration // how long the provider expects it to
	done  func(finish time.Duration)
}

// provState is a provider's state during one run: reservations (the real
// scheduler.Reservations, late binding), running tasks and a bounded FIFO
// queue of awarded jobs waiting for resources.
type provState struct {
	p        *Provider
	idx      int
	reserved *scheduler.Reservations
	running  []*task
	queue    []*task
	maxQueue int
	// freed, when set, is called after a job finished here.
	freed func(p int)
}

// hasRoom reports whether an award of res would be held now: it starts at
// once, or the queue has room.
func (s *provState) hasRoom(res job.Resources) bool {
	return len(s.queue) < s.maxQueue || len(s.queue) == 0 && fits(res, s.reserved.Free())
}

func newProvState(p *Provider, idx, maxQueue int) *provState {
	return &provState{p: p, idx: idx, reserved: scheduler.NewReservations(p.Offer.Capacity), maxQueue: maxQueue}
}

// answer is the provider's answer to a request at now: scheduler.Admit's
// bid or decline on its free resources; when the job does not fit now (or
// jobs already wait) and the queue has room, a bid at the same price with
// the queue position and the estimated wait.
func (s *provState) answer(r *job.Request, now time.Duration) job.Bid {
	b := scheduler.Admit(&s.p.Offer, r, s.reserved.Free(), s.reserved.Running())
	if (b.Decline == "" && len(s.queue) > 0) || b.Decline == job.DeclineBusy {
		if len(s.queue) >= s.maxQueue {
			b = job.Bid{V: job.Version, Job: r.Job, Rates: s.p.Offer.Rates, Region: s.p.Offer.Region,
				Decline: job.DeclineBusy, Detail: "queue full"}
		} else if b = scheduler.Admit(&s.p.Offer, r, s.p.Offer.Capacity, 0); b.Decline == "" {
			b.Queue = len(s.queue) + 1
			b.WaitMS = (s.startTime(now, r.Resources, false) - now).Milliseconds()
		}
	}
	b.Provider = s.p.ID
	b.ExpiresMS = epochMS(now + r.Timeout() + 30*time.Second)
	if b.Decline == "" {
		b.Carbon = s.p.Record.IntensityOver(wall(now), r.Run()) // 0 unless its record declares one (green.go)
	}
	return b
}

// load is the share of the provider's binding resource (GPUs for a GPU
// job, else CPU) that running and queued jobs ask for: what a
// power-of-two-choices probe reads.
func (s *provState) load(gpu bool) float64 {
	var used float64
	for _, list := range [][]*task{s.running, s.queue} {
		for _, t := range list {
			if gpu {
				used += float64(t.res.GPUs)
			} else {
				used += float64(t.res.CPUMillis)
			}
		}
	}
	if gpu {
		return used / float64(max(1, s.p.Offer.Capacity.GPUs))
	}
	return used / float64(s.p.Offer.Capacity.CPUMillis)
}

// startTime is when a job needing res would start if it joined the queue
// at now: the queue is served first come, first served as resources free
// up. exact uses the tasks' real run times (what only the omniscient
// scheduler knows); otherwise the provider's estimates.
func (s *provState) startTime(now time.Duration, res job.Resources, exact bool) time.Duration {
	type release struct {
		at  time.Duration
		res job.Resources
	}
	dur := func(t *task) time.Duration {
		if exact {
			return t.run
		}
		return t.est
	}
	free := s.reserved.Free()
	ends := make([]release, 0, len(s.running)+len(s.queue))
	for _, t := range s.running {
		ends = append(ends, release{max(now, t.start+dur(t)), t.res})
	}
	slices.SortFunc(ends, func(a, b release) int { return cmp.Compare(a.at, b.at) })
	at := now
	place := func(need job.Resources, d time.Duration) time.Duration {
		for !fits(need, free) && len(ends) > 0 {
			e := ends[0]
			ends = ends[1:]
			free = add(free, e.res, 1)
			at = max(at, e.at)
		}
		free = add(free, need, -1)
		i, _ := slices.BinarySearchFunc(ends, at+d, func(r release, t time.Duration) int { return cmp.Compare(r.at, t) })
		ends = slices.Insert(ends, i, release{at + d, need})
		return at
	}
	for _, t := range s.queue {
		place(t.res, dur(t))
	}
	return place(res, 0)
}

func fits(need, free job.Resources) bool {
	return need.CPUMillis <= free.CPUMillis && need.MemoryBytes <= free.MemoryBytes && need.GPUs <= free.GPUs
}

func add(a, b job.Resources, sign int) job.Resources {
	a.CPUMillis += int64(sign) * b.CPUMillis
	if sign > 0 {
		a.MemoryBytes += b.MemoryBytes
	} else {
		a.MemoryBytes -= b.MemoryBytes
	}
	a.GPUs += sign * b.GPUs
	return a
}

// accept takes an award at now: the job starts at once when nothing waits
// and it fits, else joins the queue; it is declined (false) when the queue
// is full or, with a promise (a bid's start time plus slack; 0: none), when
// it would start later than promised: the late-binding check.
func (s *provState) accept(l *Loop, t *task, promise time.Duration) bool {
	now := l.Now()
	if !s.hasRoom(t.res) {
		return false
	}
	if promise > 0 && s.startTime(now, t.res, false) > promise {
		return false
	}
	s.queue = append(s.queue, t)
	s.startQueued(l)
	return true
}

// startQueued starts queued tasks, first come first served, while the
// head fits.
func (s *provState) startQueued(l *Loop) {
	for len(s.queue) > 0 {
		t := s.queue[0]
		if err := s.reserved.Reserve(t.job.ID, t.res); err != nil {
			return
		}
		s.queue = s.queue[1:]
		t.start = l.Now()
		s.running = append(s.running, t)
		l.After(t.run, func() { s.finish(l, t) })
	}
}

func (s *provState) finish(l *Loop, t *task) {
	s.reserved.Release(t.job.ID)
	s.running = slices.DeleteFunc(s.running, func(x *task) bool { return x == t })
	t.done(l.Now())
	s.startQueued(l)
	if s.freed != nil {
		s.freed(s.idx)
	}
}
