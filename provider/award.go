package provider

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/computemesh/computemesh/award"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/market"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// handleAward runs an awarded job: check the award against the bid this
// provider made, reserve (late binding) or decline, fetch the module by CID
// from the client, run it, and return the result with the charge.
func (p *Provider) handleAward(s network.Stream) {
	ss, err := award.Serve(s)
	if err != nil {
		_ = s.Close()
		p.log.Debugw("reading an award", "client", s.Conn().RemotePeer(), "err", errors.Unwrap(err))
		return
	}
	defer ss.Close()
	a, client := ss.Award(), ss.Client()
	decline := func(format string, args ...any) {
		reason := fmt.Sprintf(format, args...)
		p.log.Infow("declining an award", "job", a.Job, "attempt", a.Attempt, "client", client, "reason", reason)
		_ = ss.Decline(reason)
	}
	st, why := p.admitAward(a, client)
	if why != "" {
		decline("%s", why)
		return
	}
	if a.Spec.IsArray() {
		p.runSlice(ss, st)
		return
	}
	// The client going away (a reset or closed stream) cancels the wait or
	// the run; from here the stream carries heartbeats.
	runCtx, cancelRun := ss.Begin(p.ctx)
	defer cancelRun()
	err = p.reserved.Wait(runCtx, a.Job, a.Spec.Resources, p.opts.Queue, func(pos int) {
		p.log.Infow("job queued", "job", a.Job, "attempt", a.Attempt, "client", client, "position", pos)
		_ = ss.Queued(pos)
	})
	if err != nil {
		ss.EndLog()
		p.credits.Settle(a.Job, a.Attempt) // never ran: nothing to pay
		if runCtx.Err() == nil {
			decline("%v", err)
		}
		return
	}
	p.capacityChanged()
	release := sync.OnceFunc(func() {
		p.reserved.Release(a.Job)
		p.capacityChanged()
	})
	defer release()
	if err := ss.Accept(); err != nil {
		ss.EndLog()
		return
	}
	started := time.Now()
	res := p.run(runCtx, a, client, st.rates, ss.Log())
	ss.EndLog()
	release() // the capacity is free while the result and receipt travel
	p.runTimes.add(time.Since(started))
	if res.Error != "" && runCtx.Err() != nil && p.ctx.Err() == nil {
		// Cancelled by the client (or it went away): the time it ran is
		// paid, on its authorisation.
		p.credits.Claim(a, p.meter(a, st.rates, time.Since(started)), "cancelled by the client after running "+time.Since(started).Round(time.Millisecond).String())
		return
	}
	p.deliver(ss, res)
}

// admitAward checks an award against the bid this provider made (one
// award per bid, to its client, unexpired, for exactly the request and
// price bid on) and, on a network with credits, the client's authorisation
// and balance beside its other unpaid runs here. It returns the standing
// bid, or why the award is declined.
func (p *Provider) admitAward(a *job.Award, client peer.ID) (standing, string) {
	if a.Client != client.String() {
		return standing{}, fmt.Sprintf("award sent by %s for client %s", client, a.Client)
	}
	st, ok := p.bids.take(a.Job) // one award per bid
	switch {
	case !ok:
		return st, fmt.Sprintf("no standing bid for job %s", a.Job)
	case st.client != a.Client:
		return st, fmt.Sprintf("my bid for job %s was made to another client", a.Job)
	case p.now().UnixMilli() > st.expires:
		return st, fmt.Sprintf("my bid for job %s has expired", a.Job)
	case requestDigest(job.NewRequest(a.Job, a.Client, &a.Spec, st.bidBy)) != st.req:
		// The gossiped request is not bound to the spec by the job ID: a
		// client could ask for little and award much. What was bid on must
		// be what is awarded.
		return st, "the awarded spec does not match the request I bid on (resources, timeout, module, region or price differ)"
	case a.Bid.Price != st.price || a.Bid.Rates != st.rates:
		return st, fmt.Sprintf("the award's price %s is not my bid's %s", a.Bid.Price, st.price)
	}
	if p.draining.Load() {
		return st, "draining: taking no new jobs"
	}
	if p.opts.Balances {
		// A job array's slice is authorised for its tasks at the pay each.
		pay := job.SliceMax(max(a.Pay, a.Bid.Price), len(a.Tasks))
		if why := p.credits.CheckAuthorization(a, client, pay); why != "" {
			return st, why
		}
		// The balance must cover this run beside the runs here it has not
		// paid for yet; the authorisation is kept until its receipt comes.
		if why := p.credits.Reserve(a, func(owes job.Credits) string { return p.credits.Funded(client.String(), owes, pay) }); why != "" {
			return st, why
		}
	}
	return st, ""
}

// deliver sends a run's result and takes its receipt, or claims the
// charge when the client went away or sent no valid receipt.
func (p *Provider) deliver(ss *award.Session, res *job.Result) {
	a, client := ss.Award(), ss.Client()
	if err := ss.Result(res); err != nil {
		p.log.Warnw("returning the result", "job", a.Job, "attempt", a.Attempt, "client", client, "err", errors.Unwrap(err))
		if res.Error == "" {
			p.credits.Claim(a, res.Charge, "the client went away before the result")
		}
		return
	}
	p.countRun(res)
	if res.Error != "" {
		p.credits.Settle(a.Job, a.Attempt) // charged nothing
		return
	}
	p.opts.Earn(res.Charge)
	p.metrics.Earned.Add(float64(res.Charge))
	if err := ss.TakeReceipt(p.credits, res.Charge); err != nil {
		p.metrics.Unreceipted.Inc()
		p.log.Warnw("no receipt", "job", a.Job, "attempt", a.Attempt, "client", client, "err", err)
		p.credits.Claim(a, res.Charge, "no receipt: "+err.Error())
		return
	}
	p.credits.Settle(a.Job, a.Attempt)
}

// countRun counts a delivered run by how it ended.
func (p *Provider) countRun(res *job.Result) {
	switch {
	case res.Error != "":
		p.metrics.Runs.WithLabelValues("error").Inc()
	case res.TimedOut:
		p.metrics.Runs.WithLabelValues("timeout").Inc()
	case res.DiskExceeded:
		p.metrics.Runs.WithLabelValues("disk_exceeded").Inc()
	case res.ExitCode != 0:
		p.metrics.Runs.WithLabelValues("nonzero_exit").Inc()
	default:
		p.metrics.Runs.WithLabelValues("ok").Inc()
	}
}

// meter returns what a run of d costs at the bid's rates (scaled like a
// result's charge): what a cancelled run claims.
func (p *Provider) meter(a *job.Award, rates job.Rates, d time.Duration) job.Credits {
	charge, err := market.Charge(rates, a.Spec.Resources, a.Spec.Timeout(), min(d, a.Spec.Timeout()))
	if err != nil {
		return 0
	}
	return market.Scale(charge, a.Bid.Price, a.Pay)
}
