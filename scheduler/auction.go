package scheduler

import (
	"sync"

	"github.com/computemesh/computemesh/job"
)

// Auction collects the answers (bids and declines) to one job request. It is
// complete once every expected candidate has answered; the caller closes the
// window at that moment or at its deadline, whichever comes first. Safe for
// concurrent use.
type Auction struct {
	job string

	mu       sync.Mutex
	expected map[string]bool
	answered map[string]job.Bid // by provider; the first answer counts
	order    []string
	done     chan struct{}
	closed   bool
}

// NewAuction starts collecting answers to job from the expected candidates
// (peer IDs). With no expected candidates it completes only at the deadline.
func NewAuction(jobID string, expected []string) *Auction {
	a := &Auction{
		job:      jobID,
		expected: make(map[string]bool, len(expected)),
		answered: make(map[string]job.Bid, len(expected)),
		done:     make(chan struct{}),
	}
	for _, p := range expected {
		a.expected[p] = true
	}
	return a
}

// Job returns the ID of the job this auction is for.
func (a *Auction) Job() string { return a.job }

// Offer records an answer. Answers to other jobs and repeated answers from one
// provider are ignored (the first stands). It reports whether the answer was
// recorded.
func (a *Auction) Offer(b job.Bid) bool {
	if b.Job != a.job {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return false
	}
	if _, dup := a.answered[b.Provider]; dup {
		return false
	}
	a.answered[b.Provider] = b
	a.order = append(a.order, b.Provider)
	if len(a.expected) > 0 && a.completeLocked() {
		a.closed = true
		close(a.done)
	}
	return true
}

// Expect adds candidates learnt after the auction started.
func (a *Auction) Expect(peers ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, p := range peers {
		a.expected[p] = true
	}
	if !a.closed && len(a.expected) > 0 && a.completeLocked() {
		a.closed = true
		close(a.done)
	}
}

func (a *Auction) completeLocked() bool {
	for p := range a.expected {
		if _, ok := a.answered[p]; !ok {
			return false
		}
	}
	return true
}

// Done is closed when every expected candidate has answered.
func (a *Auction) Done() <-chan struct{} { return a.done }

// Close ends the window: later answers are ignored. It returns the answers in
// arrival order.
func (a *Auction) Close() []job.Bid {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.closed {
		a.closed = true
		close(a.done)
	}
	out := make([]job.Bid, 0, len(a.order))
	for _, p := range a.order {
		out = append(out, a.answered[p])
	}
	return out
}

// Expected returns how many candidates were expected.
func (a *Auction) Expected() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.expected)
}
