package client

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/scheduler"
)

// replicaRun is one replica's result.
type replicaRun struct {
	rank int // its place in the ranking
	opt  scheduler.Option
	why  string
	res  *job.Result
	key  string
}

// outputKey is what replicas compare: the outputs CID, or for a job
// without outputs a digest of its exit code and stdout.
func outputKey(r *job.Result) string {
	if r.Outputs != "" {
		return r.Outputs
	}
	h := sha256.New()
	_ = binary.Write(h, binary.BigEndian, int64(r.ExitCode))
	h.Write(r.Stdout)
	return "stdout:" + hex.EncodeToString(h.Sum(nil)[:16])
}

// runReplicas runs the job on Spec.Replicas distinct providers at once, each
// replica failing over down the ranking on its own, then keeps the
// majority's result. Every replica that ran is paid (its receipt is signed
// on its award stream as it returns); providers whose output disagrees are
// reported in out.Minority and lose reputation. It reports whether the job
// was placed (out is final): false when too few replicas could run for a
// majority.
func (c *Client) runReplicas(ctx context.Context, t *ticket, ranked []scheduler.Option, out *job.Outcome, emit func(job.Event)) bool {
	k := t.sub.Spec.Replicas
	need := k/2 + 1
	if len(ranked) < k {
		out.State, out.ExitCode = job.StateUnscheduled, -1
		out.Error = fmt.Sprintf("replicas: %d asked, only %d feasible bids", k, len(ranked))
		return false
	}
	runs, failures := c.runReplicaSet(ctx, t, ranked, out, emit)
	if ctx.Err() != nil {
		out.State, out.ExitCode, out.Error = job.StateCancelled, -1, "cancelled while running its replicas"
		return true
	}
	slices.SortFunc(runs, func(a, b replicaRun) int { return a.rank - b.rank })
	count := map[string]int{}
	for _, r := range runs {
		count[r.key]++
	}
	best := ""
	for _, r := range runs { // the best-ranked run breaks ties between keys
		if count[r.key] > count[best] {
			best = r.key
		}
	}
	if len(runs) < need {
		out.State, out.ExitCode = job.StateFailed, -1
		out.Error = fmt.Sprintf("replicas: %d of %d ran, %d needed for a majority: %s", len(runs), k, need, strings.Join(failures, "; "))
		return false
	}
	var winner *replicaRun
	var charge job.Credits
	for i := range runs {
		r := &runs[i]
		maj := r.key == best && count[best] >= need
		rep := job.Replica{Provider: r.opt.Bid.Provider, Output: r.key, Charge: r.res.Charge, Majority: maj}
		out.Replicas = append(out.Replicas, rep)
		verdict := job.VerdictMinority
		charge += r.res.Charge
		if maj {
			verdict = job.VerdictMajority
			if winner == nil {
				winner = r
			}
		} else {
			out.Minority = append(out.Minority, r.opt.Bid.Provider)
			c.reps.update(r.opt.Bid.Provider, func(rep *api.Reputation) { rep.Mismatches++ })
		}
		emit(job.Event{Kind: job.EventReplica, Provider: r.opt.Bid.Provider, Price: r.res.Charge, Verdict: verdict, Message: string(verdict) + ": " + r.key})
	}
	if winner == nil {
		out.State, out.ExitCode = job.StateFailed, -1
		out.Error = fmt.Sprintf("replicas disagree: %d runs, no output reached %d of %d", len(runs), need, k)
		return true
	}
	out.Provider, out.Region, out.Price, out.Reason = winner.opt.Bid.Provider, winner.opt.Bid.Region, winner.opt.Bid.Price, winner.why
	c.settle(ctx, t.sub.Spec, winner.opt.Bid.Provider, winner.res, out)
	out.Charge = charge
	c.spend(charge)
	c.metrics.Spent.Add(float64(charge))
	if len(out.Minority) > 0 {
		c.log.Warnw("replicas disagreed with the majority", "job", t.id, "providers", out.Minority)
	}
	return true
}

// runReplicaSet runs k replicas at once, each failing over down the
// ranking on its own; it returns the runs that gave a result and why the
// others failed.
func (c *Client) runReplicaSet(ctx context.Context, t *ticket, ranked []scheduler.Option, out *job.Outcome, emit func(job.Event)) (runs []replicaRun, failures []string) {
	k := t.sub.Spec.Replicas
	var (
		mu   sync.Mutex
		next int
		wg   sync.WaitGroup
	)
	take := func() int {
		mu.Lock()
		defer mu.Unlock()
		if next >= len(ranked) {
			return -1
		}
		next++
		return next - 1
	}
	for range k {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := take()
				if i < 0 || ctx.Err() != nil {
					return
				}
				res, why, err := c.attempt(ctx, t, ranked, i, out, emit)
				if err != nil {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("%s: %v", short(ranked[i].Bid.Provider), err))
					mu.Unlock()
					emit(job.Event{Kind: job.EventFailover, Provider: ranked[i].Bid.Provider, Message: err.Error(), Verdict: attemptVerdict(err)})
					continue
				}
				mu.Lock()
				runs = append(runs, replicaRun{rank: i, opt: ranked[i], why: why, res: res, key: outputKey(res)})
				mu.Unlock()
				return
			}
		}()
	}
	wg.Wait()
	return runs, failures
}
