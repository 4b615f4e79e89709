package scheduler

import (
	"time"

	"github.com/computemesh/computemesh/job"
)

// DefaultBandwidth is the rate, in bytes a second, at which a provider is
// taken to fetch the inputs it lacks when nothing better is known.
const DefaultBandwidth = 50 << 20

// Transfers returns, for each bid among answers, the time its provider
// would take to fetch the job's IPFS inputs it lacks at bandwidth bytes a
// second: what the bid that holds the most of them holds (the inputs'
// size, as far as any bidder knows it) less what it holds itself
// (job.Bid.Held). The latency and balanced policies count it (Latency):
// a job goes to its data unless another bidder is faster, or cheaper, by
// more than the transfer costs.
func Transfers(answers []job.Bid, bandwidth int64) func(b *job.Bid) time.Duration {
	var most int64
	for _, b := range answers {
		if b.Decline == "" {
			most = max(most, b.Held)
		}
	}
	return func(b *job.Bid) time.Duration {
		missing := most - min(max(b.Held, 0), most)
		if missing <= 0 || bandwidth <= 0 {
			return 0
		}
		return time.Duration(float64(missing) / float64(bandwidth) * float64(time.Second))
	}
}
