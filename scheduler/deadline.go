package scheduler

import (
	"fmt"
	"time"

	"github.com/computemesh/computemesh/job"
)

// Backlog is what a client knows of its own load on a provider that the
// provider's bid may not show. A bid is as old as its auction, and a
// client runs many auctions at once: without its backlog, every auction
// of a burst would see the cheapest provider as free and award it
// everything.
type Backlog struct {
	// InFlight counts the client's unfinished awards there.
	InFlight int
	// Unseen counts those sent after the bid arrived: the bid cannot show
	// them. (Awards sent before it may be in it already: counted again,
	// they would make a client shun a provider it is the only user of.)
	Unseen int
	// Slots is how many jobs like this one the provider runs at once
	// (SlotsFor its capacity record); below 1 counts as 1.
	Slots int
	// Run is how long one such job holds a slot there (BacklogRun).
	Run time.Duration
}

// Wait is how long the job would wait at b's provider before it starts:
// the bid's own estimate plus the client's awards it does not show, each
// holding one of the provider's Slots for Run.
//
// A bid that starts at once (Queue 0) had a slot free and nobody queued,
// so at least InFlight of the client's jobs are ahead of this one there
// (those it shows hold slots, the others come after it): the job waits
// once they fill every slot, InFlight / Slots rounds of Run.
//
// A bid that queues shows every slot taken and Queue - 1 jobs ahead: of
// the client's awards, it holds at most Slots + Queue - 1, and none sent
// after it arrived; each of the others comes before this job and adds
// Run / Slots (the provider's own estimate per queue position is its mean
// run time over its running jobs).
func (bl Backlog) Wait(b *job.Bid) time.Duration {
	wait := time.Duration(b.WaitMS) * time.Millisecond
	slots := max(bl.Slots, 1)
	if b.Queue <= 0 {
		return wait + time.Duration(max(bl.InFlight, bl.Unseen)/slots)*bl.Run
	}
	unseen := max(bl.Unseen, bl.InFlight-(slots+b.Queue-1))
	if unseen <= 0 {
		return wait
	}
	return wait + time.Duration(unseen)*bl.Run/time.Duration(slots)
}

// SlotsFor is how many jobs asking for need a provider offering total runs
// at once: the least of its CPU, memory and GPUs over the job's (at
// least 1; a dimension the job does not ask for does not bind).
func SlotsFor(total, need job.Resources) int {
	slots := int64(1 << 30)
	if need.CPUMillis > 0 {
		slots = min(slots, total.CPUMillis/need.CPUMillis)
	}
	if need.MemoryBytes > 0 {
		slots = min(slots, int64(total.MemoryBytes/need.MemoryBytes))
	}
	if need.GPUs > 0 {
		slots = min(slots, int64(total.GPUs/need.GPUs))
	}
	if slots == 1<<30 {
		return 1
	}
	return int(max(slots, 1))
}

// BacklogRun is the run time a backlog counts per award: the job's own
// estimate there (RunEstimate: expected_ms scaled by the provider's
// score), else the mean run time the client measured of its jobs there,
// else half the job's timeout — the provider's own guess before it has
// measured anything (admitCapacity).
func BacklogRun(estimate, measured time.Duration, s *job.Spec) time.Duration {
	switch {
	case estimate > 0:
		return estimate
	case measured > 0:
		return measured
	}
	return s.Timeout() / 2
}

// MeetsDeadline is the deadline check: a bid on which the job would start
// after deadline — at now plus its wait, as wait estimates it (the bid's
// own plus the client's Backlog there) — is rejected with RejectDeadline.
// A zero deadline passes every bid. The deadline bounds the start, not the
// end: it is how long the job may wait for a provider (job.File's
// deadline), so a long job is never kept off an idle mesh by its own run
// time. Under the cost policy this makes a burst take the cheapest bids
// that still start in time instead of queuing everything on the cheapest.
func MeetsDeadline(deadline, now time.Time, wait func(b *job.Bid) time.Duration) Check {
	return Check{job.RejectDeadline, func(b *job.Bid) string {
		if deadline.IsZero() {
			return ""
		}
		w := wait(b)
		if !now.Add(w).After(deadline) {
			return ""
		}
		left := deadline.Sub(now)
		if left <= 0 {
			return fmt.Sprintf("the deadline passed %v ago", (-left).Round(time.Millisecond))
		}
		return fmt.Sprintf("would start in %v, past the deadline in %v", w.Round(time.Millisecond), left.Round(time.Millisecond))
	}}
}

// overBound orders two options under a soft wait bound (Policy.MaxWait):
// within it first; past it after, the earliest start first. 0 when the
// bound does not tell them apart.
func overBound(bound time.Duration, a, b *Option) int {
	if bound <= 0 {
		return 0
	}
	aOver, bOver := a.Wait > bound, b.Wait > bound
	switch {
	case aOver && !bOver:
		return 1
	case !aOver && bOver:
		return -1
	case aOver && bOver && a.Wait != b.Wait:
		if a.Wait < b.Wait {
			return -1
		}
		return 1
	}
	return 0
}

// WhyWait adds to Why what a soft wait bound did to ranked[i]'s place:
// "" without a bound or when it changed nothing.
func WhyWait(bound time.Duration, ranked []Option, i int) string {
	if bound <= 0 {
		return ""
	}
	o := &ranked[i]
	if o.Wait > bound {
		return fmt.Sprintf("; every bid left would wait past the max wait %v: the earliest start (wait %v)", bound, o.Wait.Round(time.Millisecond))
	}
	cheaper := 0
	for j := range ranked {
		if ranked[j].Wait > bound && ranked[j].Bid.Price < o.Bid.Price {
			cheaper++
		}
	}
	if cheaper == 0 {
		return ""
	}
	return fmt.Sprintf("; %d cheaper bids would wait past the max wait %v", cheaper, bound)
}
