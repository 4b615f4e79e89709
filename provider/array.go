package provider

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/computemesh/computemesh/award"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/scheduler"
	"github.com/libp2p/go-libp2p/core/peer"
)

// sliceTakes is how many tasks of a job array r this provider bids for:
// its free slots for the array's resources now (none when its bid is a
// queued one) and the room in its queue, at least 1, at most the count.
func (p *Provider) sliceTakes(r *job.Request, queued bool) int {
	free := 0
	if !queued {
		free = fitsIn(p.reserved.Free(), r.Resources)
		if p.offer.MaxJobs > 0 {
			free = min(free, max(p.offer.MaxJobs-p.reserved.Running(), 0))
		}
	}
	room := max(p.offer.QueueLimit-p.reserved.Queued(), 0)
	return max(1, min(r.Count, free+room))
}

// fitsIn is how many reservations of need fit in free.
func fitsIn(free, need job.Resources) int {
	n := int64(job.MaxCount)
	if need.CPUMillis > 0 {
		n = min(n, free.CPUMillis/need.CPUMillis)
	}
	if need.MemoryBytes > 0 {
		n = min(n, int64(free.MemoryBytes/need.MemoryBytes))
	}
	if need.GPUs > 0 {
		n = min(n, int64(free.GPUs/need.GPUs))
	}
	return int(max(n, 0))
}

// sliceWorkers is how many tasks of a slice run at once: as many as the
// provider's whole capacity holds (the reservations still decide, beside
// its other jobs), at most the slice.
func (p *Provider) sliceWorkers(a *job.Award) int {
	w := scheduler.SlotsFor(p.offer.Capacity, a.Spec.Resources)
	if p.offer.MaxJobs > 0 {
		w = min(w, p.offer.MaxJobs)
	}
	return max(1, min(w, len(a.Tasks)))
}

// slice is what a slice's run has delivered so far.
type slice struct {
	mu        sync.Mutex
	charge    job.Credits // the sum of the delivered tasks' charges
	delivered int
	ran       int   // delivered tasks the provider ran (no provider error): a receipt is due
	sendErr   error // the first result that could not be sent
}

// runSlice runs the tasks of a job array's slice (the award is admitted:
// its authorisation covers the slice): accepted at once, then its
// workers take the tasks in order, each reserving the task's resources
// (waiting for them in the queue beside other jobs) and running it with
// its index in its environment, and send each task's result as it ends;
// then one receipt for the sum of the charges, or a claim when the client
// went away or sent none.
func (p *Provider) runSlice(ss *award.Session, st standing) {
	a, client := ss.Award(), ss.Client()
	runCtx, cancelRun := ss.Begin(p.ctx)
	defer cancelRun()
	if err := ss.Accept(); err != nil {
		ss.EndLog()
		p.credits.Settle(a.Job, a.Attempt)
		return
	}
	tasks := make(chan int, len(a.Tasks))
	for _, t := range a.Tasks {
		tasks <- t
	}
	close(tasks)
	workers := p.sliceWorkers(a)
	var sl slice
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range tasks {
				if runCtx.Err() != nil {
					return
				}
				res := p.runSliceTask(runCtx, a, client, st.rates, t, workers)
				if err := sl.deliver(ss, res); err != nil {
					cancelRun()
					return
				}
				p.countRun(res)
			}
		}()
	}
	wg.Wait()
	ss.EndLog()
	p.settleSlice(ss, &sl)
}

// deliver sends one task's result and counts its charge once sent.
func (sl *slice) deliver(ss *award.Session, res *job.Result) error {
	if err := ss.TaskResult(res); err != nil {
		sl.mu.Lock()
		sl.sendErr = cmp(sl.sendErr, err)
		sl.mu.Unlock()
		return err
	}
	sl.mu.Lock()
	sl.delivered++
	if res.Error == "" {
		sl.charge += res.Charge
		sl.ran++
	}
	sl.mu.Unlock()
	return nil
}

// cmp keeps the first error.
func cmp(first, next error) error {
	if first != nil {
		return first
	}
	return next
}

// runSliceTask reserves one task's resources (waiting in the queue beside
// other jobs; a slice's workers add at most one entry each to it) and runs
// the task with its index and the count in its environment.
func (p *Provider) runSliceTask(ctx context.Context, a *job.Award, client peer.ID, rates job.Rates, task, workers int) *job.Result {
	key := a.Job + "#" + strconv.Itoa(task)
	if err := p.reserved.Wait(ctx, key, a.Spec.Resources, p.opts.Queue+workers, nil); err != nil {
		return &job.Result{Job: a.Job, Provider: p.selfID, ExitCode: -1, Task: task, Error: "reserving: " + err.Error()}
	}
	p.capacityChanged()
	ta := *a
	ta.Spec.Env = job.TaskEnv(a.Spec.Env, task, a.Spec.Count)
	started := time.Now()
	res := p.run(ctx, &ta, client, rates, io.Discard)
	p.reserved.Release(key)
	p.capacityChanged()
	p.runTimes.add(time.Since(started))
	res.Task = task
	return res
}

// settleSlice takes the slice's one receipt for the sum of its delivered
// charges, or claims that sum on the slice's authorisation when a result
// could not be sent or the receipt did not come.
func (p *Provider) settleSlice(ss *award.Session, sl *slice) {
	a, client := ss.Award(), ss.Client()
	sl.mu.Lock()
	charge, delivered, ran, sendErr := sl.charge, sl.delivered, sl.ran, sl.sendErr
	sl.mu.Unlock()
	if sendErr != nil || delivered < len(a.Tasks) {
		why := fmt.Sprintf("the client went away after %d of %d tasks' results", delivered, len(a.Tasks))
		if sendErr != nil {
			why += ": " + sendErr.Error()
		}
		p.log.Warnw("slice not delivered", "job", a.Job, "attempt", a.Attempt, "client", client, "reason", why)
		if charge > 0 {
			p.credits.Claim(a, charge, why)
		} else {
			p.credits.Settle(a.Job, a.Attempt)
		}
		return
	}
	if ran == 0 { // no task ran here: nothing to pay, no receipt
		p.credits.Settle(a.Job, a.Attempt)
		return
	}
	p.opts.Earn(charge)
	p.metrics.Earned.Add(float64(charge))
	if err := ss.TakeReceipt(p.credits, charge); err != nil {
		p.metrics.Unreceipted.Inc()
		p.log.Warnw("no receipt", "job", a.Job, "attempt", a.Attempt, "tasks", len(a.Tasks), "client", client, "err", err)
		p.credits.Claim(a, charge, "no receipt: "+err.Error())
		return
	}
	p.credits.Settle(a.Job, a.Attempt)
}
