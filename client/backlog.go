package client

import (
	"slices"
	"sync"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/scheduler"
)

// backlog is what this client has awarded to each provider and not yet
// seen finish, and the run times its jobs there reported. A bid is as old
// as its auction and the client runs up to MaxAuctions auctions at once:
// every one of a burst sees the same, stale, wait in the cheapest
// provider's bids. So the client adds to a bid's wait its own awards the
// bid cannot show (scheduler.Backlog): for a bid that starts at once, all
// its unfinished awards there (such a bid had a slot free and nobody
// queued); for a queued bid, those sent after the bid arrived and those
// beyond what the bid can hold.
type backlog struct {
	mu   sync.Mutex
	sent map[string][]time.Time   // by provider: when each unfinished award was sent
	runs map[string]time.Duration // by provider: moving mean of reported run times
}

// maxRunMeans bounds how many providers' run times a client remembers.
const maxRunMeans = 10_000

func newBacklog() *backlog {
	return &backlog{sent: map[string][]time.Time{}, runs: map[string]time.Duration{}}
}

// award records an award to provider sent at at; the returned function
// records its end, with the run time the provider reported (0: none).
func (b *backlog) award(provider string, at time.Time) (done func(run time.Duration)) {
	b.mu.Lock()
	b.sent[provider] = append(b.sent[provider], at)
	b.mu.Unlock()
	var once sync.Once
	return func(run time.Duration) {
		once.Do(func() { b.finish(provider, at, run) })
	}
}

func (b *backlog) finish(provider string, at time.Time, run time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	list := b.sent[provider]
	if i := slices.IndexFunc(list, at.Equal); i >= 0 {
		list = slices.Delete(list, i, i+1)
	}
	if len(list) == 0 {
		delete(b.sent, provider)
	} else {
		b.sent[provider] = list
	}
	if run <= 0 {
		return
	}
	if m, ok := b.runs[provider]; ok {
		b.runs[provider] = (3*m + run) / 4
		return
	}
	if len(b.runs) >= maxRunMeans {
		for p := range b.runs { // forget one, any
			delete(b.runs, p)
			break
		}
	}
	b.runs[provider] = run
}

// of returns the backlog of job s at provider as of a bid that arrived
// at since, given the provider's record (nil: unknown) and the job's run
// estimate there.
func (b *backlog) of(provider string, since time.Time, rec *job.Capacity, s *job.Spec, estimate time.Duration) scheduler.Backlog {
	b.mu.Lock()
	unseen := 0
	for _, at := range b.sent[provider] {
		if at.After(since) {
			unseen++
		}
	}
	inFlight, measured := len(b.sent[provider]), b.runs[provider]
	b.mu.Unlock()
	bl := scheduler.Backlog{Unseen: unseen, InFlight: inFlight, Slots: 1, Run: scheduler.BacklogRun(estimate, measured, s)}
	if rec != nil {
		bl.Slots = scheduler.SlotsFor(rec.Total, s.Resources)
	}
	return bl
}
