package provider

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"

	"github.com/computemesh/computemesh/executor"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/scheduler"
	"github.com/libp2p/go-libp2p/core/peer"
)

// clockSkew is how far a request's bid deadline may lie in the past, by this
// node's clock, before the provider stops answering it.
const clockSkew = 2 * time.Second

// requestWorkers is how many requests a provider answers at once (an
// answer may wait up to 2 s on the Docker daemon for an image).
const requestWorkers = 2

// requestDigest is what a bid remembers of its request, to check an award
// against: the request as job.NewRequest makes it from the awarded spec,
// so without GossipBids (how the client asked for answers is not part of
// what it asked for).
func requestDigest(r *job.Request) [32]byte {
	c := *r
	c.GossipBids = false
	return sha256.Sum256(job.Encode(&c))
}

// answerRequests answers the queued job requests, each client in turn.
func (p *Provider) answerRequests() {
	for {
		q, ok := p.reqs.pop(p.ctx)
		if !ok {
			return
		}
		p.onRequest(q.r, q.from)
	}
}

// onRequest answers a gossiped job request with a bid or a decline: the
// answer of its admission pipeline (see admission).
func (p *Provider) onRequest(r *job.Request, from peer.ID) {
	now := p.now()
	if r.BidByMS != 0 && now.UnixMilli() > r.BidByMS+clockSkew.Milliseconds() {
		return // the window has closed: answering would only add traffic
	}
	if !p.mesh.TakesBids(from, r.GossipBids) {
		// A peer that refused the bid protocol waits for no bid; a client
		// this node is not connected to asked the candidates it is
		// connected to, unless it asked for answers by gossip.
		return
	}
	prev, answered := p.bids.get(r.Job)
	if answered && prev.bidBy == r.BidByMS && prev.client == r.Client {
		return // a re-gossiped request: the bid stands
	}
	expires := p.loserExpiry(r, now).UnixMilli()
	b := p.admission(from, expires).Admit(&p.offer, r, scheduler.State{
		Free: p.reserved.Free(), Running: p.reserved.Running(), Queued: p.reserved.Queued(), AvgRun: p.runTimes.mean(),
	})
	b.Provider = p.selfID
	b.ExpiresMS = expires
	if r.Count > 1 && b.Decline == "" {
		b.Tasks = p.sliceTakes(r, b.Queue > 0)
	}
	if len(r.IPFSInputs) > 0 && b.Decline == "" {
		b.Held = p.content.PublicBytes(r.IPFSInputs) // data locality
	}
	if b.Decline == "" {
		// What its published record declares for the run from now: the
		// client checks the bid against that record.
		carbon, forecast := p.declared()
		b.Carbon = job.IntensityOver(carbon, forecast, now, r.Run())
	}
	if b.Decline != "" {
		p.metrics.Answers.WithLabelValues(string(b.Decline)).Inc()
	} else {
		p.metrics.Answers.WithLabelValues("bid").Inc()
	}
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	// from is the request's author, which the jobs topic's validator
	// checked is its client.
	if err := p.mesh.SendBid(ctx, &b, from); err != nil {
		p.log.Debugw("sending a bid", "job", r.Job, "client", from, "err", err)
	}
}

// admission is the provider's admission pipeline for a request from from
// whose bid would stand until expires (unix ms): a drain declines
// everything; then scheduler.Admit's checks; then, the bid priced, the
// provider's own: network access, the image, the command, and last the
// bid book, which keeps the bid when it has room and the client's funds
// cover it.
func (p *Provider) admission(from peer.ID, expires int64) scheduler.Admission {
	return scheduler.Admission{
		Before: []scheduler.AdmitCheck{{Name: "draining", Test: p.admitDraining}},
		After: []scheduler.AdmitCheck{
			{Name: "network", Test: p.admitNetwork},
			{Name: "url inputs", Test: p.admitURLInputs},
			{Name: "image", Test: p.admitImage},
			{Name: "command", Test: p.admitCommand},
			{Name: "standing", Test: func(a *scheduler.Admitting) (job.DeclineReason, string) {
				return p.admitStanding(a, from, expires)
			}},
		},
	}
}

func (p *Provider) admitDraining(*scheduler.Admitting) (job.DeclineReason, string) {
	if p.draining.Load() {
		return job.DeclineBusy, "draining: taking no new jobs"
	}
	return "", ""
}

func (p *Provider) admitNetwork(a *scheduler.Admitting) (job.DeclineReason, string) {
	if a.Request.Network && !p.opts.AllowJobNetwork {
		return job.DeclineNetwork, "this provider's owner does not allow jobs network access"
	}
	return "", ""
}

func (p *Provider) admitURLInputs(a *scheduler.Admitting) (job.DeclineReason, string) {
	if a.Request.URLInputs && !p.opts.AllowURLInputs {
		return job.DeclineURLInputs, "this provider's owner does not let jobs' inputs be fetched from URLs"
	}
	return "", ""
}

func (p *Provider) admitImage(a *scheduler.Admitting) (job.DeclineReason, string) {
	if r := a.Request; r.Executor == job.ExecutorDocker && !p.hasImage(r.Image) {
		return job.DeclineImage, "image " + r.Image + " is not present here"
	}
	return "", ""
}

func (p *Provider) admitCommand(a *scheduler.Admitting) (job.DeclineReason, string) {
	if r := a.Request; r.Executor == job.ExecutorExec && (p.cmds == nil || !p.cmds.Allowed(r.Command)) {
		return job.DeclineCommand, "command " + r.Command + " is not allowed here"
	}
	return "", ""
}

// admitStanding keeps the bid in the book, unless the book is full (busy)
// or, on a network with credits, the client's balance does not cover what
// its standing bids and unpaid runs here commit, this bid included (funds;
// busy while its records are still being fetched: a client the provider
// has not judged yet is not declined for want of funds it may have).
// It runs last: a bid it keeps is the answer.
func (p *Provider) admitStanding(a *scheduler.Admitting, from peer.ID, expires int64) (job.DeclineReason, string) {
	r, b := a.Request, &a.Bid
	settled := true
	if p.opts.Balances {
		settled = p.credits.Judge(p.ctx, from) // its records, from its holders (once in a while)
	}
	st := standing{client: r.Client, price: b.Price, rates: b.Rates, expires: expires, bidBy: r.BidByMS,
		timeoutMS: r.TimeoutMS, req: requestDigest(r)}
	decline, why := p.bids.put(r.Job, st, func(committed job.Credits) string {
		return p.credits.Funded(r.Client, committed+p.credits.Owes(r.Client), b.Price)
	})
	if decline == job.DeclineFunds && !settled {
		// Not known to be short: its records are still on their way.
		return job.DeclineBusy, "busy: still fetching the records of client " + r.Client + " from its holders to judge whether it can pay; ask again"
	}
	return decline, why
}

// imageCache remembers for a while whether the Docker daemon holds an
// image: a request must be answered in milliseconds.
type imageCache struct {
	mu   sync.Mutex
	seen map[string]imageSeen
}

type imageSeen struct {
	ok bool
	at time.Time
}

// hasImage says whether the Docker daemon holds an image (cached for a
// while: a request must be answered in milliseconds).
func (p *Provider) hasImage(ref string) bool {
	if p.docker == nil {
		return false
	}
	c := &p.images
	c.mu.Lock()
	e, ok := c.seen[ref]
	c.mu.Unlock()
	if ok && time.Since(e.at) < 30*time.Second {
		return e.ok
	}
	ctx, cancel := context.WithTimeout(p.ctx, 2*time.Second)
	defer cancel()
	present := p.docker.Validate(ctx, executor.Task{Image: ref, Timeout: time.Second, CPUMillis: 1000, MemoryBytes: 64 << 20}) == nil
	c.mu.Lock()
	if c.seen == nil || len(c.seen) > 1024 {
		c.seen = map[string]imageSeen{}
	}
	c.seen[ref] = imageSeen{ok: present, at: time.Now()}
	c.mu.Unlock()
	return present
}
