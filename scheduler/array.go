package scheduler

import "github.com/computemesh/computemesh/job"

// Allocate splits n tasks of a job array over ranked bids (best first):
// down the ranking each bid gets as many as it takes now (Bid.Tasks, at
// least 1) until none is left; what is left then goes to the same bids'
// queues in further passes down the ranking, each taking its Tasks again,
// so that the rest is spread in proportion to what each can run at once.
// It returns how many tasks each bid gets (same order as ranked); a bid
// that gets none is a backup for the tasks of the others.
func Allocate(ranked []Option, n int) []int {
	got := make([]int, len(ranked))
	if len(ranked) == 0 {
		return got
	}
	for left := n; left > 0; {
		for i := range ranked {
			take := min(TasksOf(&ranked[i].Bid), left)
			got[i] += take
			left -= take
			if left == 0 {
				break
			}
		}
	}
	return got
}

// TasksOf is how many tasks of an array a bid takes at once: its Tasks, at
// least 1 (a provider that does not say takes one).
func TasksOf(b *job.Bid) int { return max(b.Tasks, 1) }
