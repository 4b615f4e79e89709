package node

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
)

// A burst of cost-policy jobs on three one-slot providers with queues:
// without a deadline every job queues on the cheapest; with a deadline (or
// a batch's soft wait bound) the cheapest's queue is too long a wait, so
// the burst spreads over the others and every job still completes. Each
// case has a fresh mesh: the providers' wait estimates are then their
// first guess (half the job's timeout per job ahead), and the client's
// own backlog prices its unfinished awards the same way, so what each
// job's auction decides does not depend on how fast this machine runs.
func TestBurstSpreadsUnderDeadline(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		deadline time.Duration
		maxWait  time.Duration
		spread   bool // over more than one provider; else all on the cheapest
	}{
		{"no deadline: every job queues on the cheapest", 0, 0, false},
		{"a deadline: the burst spreads", time.Minute, 0, true},
		{"a batch's soft wait bound: the burst spreads", 0, time.Minute, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			one := job.Resources{CPUMillis: 1000, MemoryBytes: 1 << 30}
			cfg := func(rate job.Credits) Config {
				return Config{Region: "eu-west", Rates: job.Rates{CPUHour: rate}, Capacity: one, Queue: 8}
			}
			client, provs := meshWithClient(t, "test-spread", Config{DataDir: t.TempDir()}, cfg(job.Nano), cfg(2*job.Nano), cfg(3*job.Nano))
			outs, rejected := burst(t, client, 3, tt.deadline, tt.maxWait)
			used := map[string]int{}
			for i, o := range outs {
				if o.State != job.StateCompleted {
					t.Fatalf("job %d: state %s: %s", i, o.State, o.Error)
				}
				used[o.Provider]++
			}
			cheapest := provs[0].ID().String()
			if !tt.spread {
				if used[cheapest] != len(outs) {
					t.Fatalf("providers used %v, want every job on the cheapest %s", used, short(cheapest))
				}
				return
			}
			if len(used) < 2 {
				t.Fatalf("providers used %v, want the burst spread over more than one", used)
			}
			if tt.deadline > 0 {
				checkDeadlineRejection(t, client, outs, rejected, cheapest)
			}
		})
	}
}

// burst submits n sleeping jobs at once (3 s each; a 5 min timeout, so
// that a provider's or a backlog's first guess is 150 s per job ahead)
// and returns their outcomes and, per job, the providers whose bids it
// rejected for its deadline.
func burst(t *testing.T, client *Node, n int, deadline, maxWait time.Duration) ([]*job.Outcome, []map[string]bool) {
	t.Helper()
	outs := make([]*job.Outcome, n)
	rejected := make([]map[string]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		rejected[i] = map[string]bool{}
		sub := sleeperSpec(t, 3*time.Second)
		sub.Spec.TimeoutMS = (5 * time.Minute).Milliseconds()
		sub.BidWindow, sub.MaxWait = 3*time.Second, maxWait
		if deadline > 0 {
			sub.Deadline = time.Now().Add(deadline)
		}
		var mu sync.Mutex
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // generous: race detector, 2 busy cores
			defer cancel()
			outs[i], errs[i] = client.Submit(ctx, sub, func(e job.Event) {
				t.Logf("job %d %8.2fms %-10s %s %s", i, float64(e.Elapsed)/1e6, e.Kind, short(e.Provider), e.Message)
				if e.Kind == job.EventRejected && e.Reject == job.RejectDeadline {
					mu.Lock()
					rejected[i][e.Provider] = true
					mu.Unlock()
				}
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("job %d: %v", i, err)
		}
	}
	return outs, rejected
}

// checkDeadlineRejection checks that some job rejected the cheapest
// provider's bid for its deadline, and that the job's record (what `job
// describe` prints) keeps that rejection with its code.
func checkDeadlineRejection(t *testing.T, client *Node, outs []*job.Outcome, rejected []map[string]bool, cheapest string) {
	t.Helper()
	for i, r := range rejected {
		if !r[cheapest] {
			continue
		}
		rec, err := client.Job(outs[i].Job)
		if err != nil {
			t.Fatalf("job %d's record: %v", i, err)
		}
		for _, rd := range rec.Rounds {
			for _, rj := range rd.Rejected {
				if rj.Provider == cheapest && rj.Code == job.RejectDeadline && rj.Reason != "" {
					return
				}
			}
		}
		t.Fatalf("job %d rejected the cheapest's bid for its deadline, but its record's rounds %+v do not say so", i, rec.Rounds)
	}
	t.Fatalf("no job rejected the cheapest provider's bid for its deadline (rejections %v)", rejected)
}
