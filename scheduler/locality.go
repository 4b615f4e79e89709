package scheduler

import (
	"time"

	"github.com/computemesh/computemesh/job"
)

// DefaultBandwidth is the rate, in bytes a second, at which a provider is
// taken to fetch the inputs it lacks when nothing better is known.
const DefaultBandwidth = 50 << 20

// Bandwidth is how fast, in bytes a second, a provider is taken to fetch
// (0: DefaultBandwidth).
type Bandwidth func(provider string) int64

// Transfers returns, for each bid among answers, the time its provider
// would take to fetch the job's IPFS inputs it lacks at its bandwidth:
// what the bid that holds the most of them holds (the inputs' size, as
// far as any bidder knows it) less what it holds itself (job.Bid.Held).
// Give it the answers that pass the checks (Feasible): a bid rejected
// must not set the others' transfers. A transfer is at most a day.
// The latency and balanced policies count it (Latency): a job goes to its
// data unless another bidder is faster, or cheaper, by more than the
// transfer costs.
func Transfers(answers []job.Bid, bandwidth Bandwidth) func(b *job.Bid) time.Duration {
	var most int64
	for _, b := range answers {
		if b.Decline == "" {
			most = max(most, b.Held)
		}
	}
	return func(b *job.Bid) time.Duration {
		missing := most - min(max(b.Held, 0), most)
		if missing <= 0 {
			return 0
		}
		bw := int64(0)
		if bandwidth != nil {
			bw = bandwidth(b.Provider)
		}
		if bw <= 0 {
			bw = DefaultBandwidth
		}
		return time.Duration(min(float64(missing)/float64(bw), maxTransfer.Seconds()) * float64(time.Second))
	}
}

// maxTransfer bounds a transfer estimate (a Held of petabytes would
// otherwise overflow a Duration).
const maxTransfer = 24 * time.Hour

// Feasible returns the bids among answers that pass every check.
func Feasible(answers []job.Bid, checks []Check) []job.Bid {
	var out []job.Bid
next:
	for i := range answers {
		for _, c := range checks {
			if c.Test(&answers[i]) != "" {
				continue next
			}
		}
		out = append(out, answers[i])
	}
	return out
}
