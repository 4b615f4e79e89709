package client

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/scheduler"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// pending is an auction in flight.
type pending struct {
	auction  *scheduler.Auction
	emit     func(job.Event)
	gpuJob   bool   // the job needs a GPU (for the market view)
	gpuModel string // of this model

	mu      sync.Mutex
	arrived map[string]time.Time // when each provider's answer arrived (for its backlog)
}

// answered notes that provider's answer arrived at at (its first: the
// auction keeps the first answer of each provider), and reports whether it
// is the first.
func (p *pending) answered(provider string, at time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.arrived == nil {
		p.arrived = map[string]time.Time{}
	}
	if _, ok := p.arrived[provider]; ok {
		return false
	}
	p.arrived[provider] = at
	return true
}

// arrivals returns when each provider's answer arrived.
func (p *pending) arrivals() map[string]time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.arrived)
}

// auction runs one auction round of a job: discover candidates, gossip the
// request, collect answers until every candidate has answered or the window
// closes, then check and rank them. An error only when the node is closing.
func (c *Client) auction(ctx context.Context, t *ticket, out *job.Outcome, emit func(job.Event)) (*round, error) {
	s, id := t.sub.Spec, t.id
	discoverStart := time.Now()
	need := s.Resources.Need()
	need.Region, need.Executor = s.Region, s.Executor
	cands, records := c.candidates(ctx, need)
	r := &round{cands: len(cands), need: need}
	out.Candidates = len(cands)
	out.Timings.Discover += ms(time.Since(discoverStart))
	emit(job.Event{Kind: job.EventCandidates, Count: len(cands)})

	auctionStart := time.Now()
	defer func() {
		d := time.Since(auctionStart)
		out.Timings.Auction += ms(d)
		c.metrics.Auction.Observe(d.Seconds())
	}()
	window := t.sub.BidWindow
	if window <= 0 {
		window = c.cfg.BidWindow
	}
	if t.widen { // for gossiped answers, hops away (collect)
		window = max(window, widenGrace)
	}
	expected := make([]string, len(cands))
	for i, p := range cands {
		expected[i] = p.String()
	}
	p := &pending{auction: scheduler.NewAuction(id, expected), emit: emit, gpuModel: s.Resources.GPUModel,
		gpuJob: s.Resources.GPUs > 0 || s.Resources.GPUModel != ""}
	defer c.openAuction(id, p)()
	deadline := c.now().Add(window)
	req := job.NewRequest(id, c.mesh.ID().String(), s, deadline.UnixMilli())
	// Candidates are connected (collect waits for their dials): they answer
	// on the bid protocol, and their connections are kept until the round
	// ends (a provider answers only a client it is connected to unless
	// asked for gossip). With none, any provider may answer, by gossip.
	req.GossipBids = len(cands) == 0 || t.widen
	r.gossip = req.GossipBids
	defer c.protect(cands, "auction-"+id)()
	if err := c.mesh.PublishRequest(ctx, req); err != nil {
		r.err = err
		emit(job.Event{Kind: job.EventClosed, Message: "gossip failed: " + err.Error()})
		return r, nil
	}
	emit(job.Event{Kind: job.EventRequest, Message: fmt.Sprintf("window %v", window)})
	closedBy, err := c.collect(ctx, t, r, p, req, cands, window)
	if err != nil {
		return nil, err
	}
	if closedBy == "" { // ctx ended
		return r, nil
	}
	r.answers = p.auction.Close()
	r.arrived = p.arrivals()
	c.noteSilent(cands, r.arrived)
	emit(job.Event{Kind: job.EventClosed, Count: len(r.answers), Message: closedBy})
	if s.Policy != job.PolicyCost {
		c.measureRTT(ctx, r.answers)
	}
	c.evaluate(t, r, records, out, emit)
	return r, nil
}

// collect waits for round r's answers: until the window closes, or every
// candidate has answered — in a widened round (t.widen, whose window is
// widenGrace at least), widenGrace after that, the rest of the window at
// most: the round is for the providers that are not candidates, whose
// answers come by gossip, hops away, and its candidates, who could not
// take the job a moment ago, answer at once (it closed a few milliseconds
// in, before any gossiped answer could arrive).
// A third into the window, silent candidates are asked again. It returns
// what closed the round; "" when ctx ended.
func (c *Client) collect(ctx context.Context, t *ticket, r *round, p *pending, req *job.Request, cands []peer.ID, window time.Duration) (string, error) {
	end := time.Now().Add(window)
	timer := time.NewTimer(window)
	defer timer.Stop()
	// A peer that joined the topic a moment ago may miss the first gossip:
	// if candidates are silent at a third of the window, gossip once more
	// (a new message; providers answer each request once).
	regossip := time.NewTimer(window / 3)
	defer regossip.Stop()
	allAnswered, closedBy := p.auction.Done(), "deadline"
	for {
		select {
		case <-allAnswered:
			if !t.widen {
				return "every candidate answered", nil
			}
			allAnswered = nil
			grace := min(widenGrace, time.Until(end))
			timer.Reset(grace)
			closedBy = fmt.Sprintf("every candidate answered, and %v for the others", grace.Round(time.Millisecond))
		case <-timer.C:
			return closedBy, nil
		case <-regossip.C:
			// A silent candidate whose connection went (a relay's limit,
			// the other end's trimming) may still answer by gossip.
			req.GossipBids = req.GossipBids || c.silentUnconnected(cands, p)
			r.gossip = req.GossipBids
			if err := c.mesh.PublishRequest(ctx, req); err != nil {
				c.log.Debugw("re-gossiping a job request", "job", t.id, "err", err)
			}
		case <-ctx.Done():
			return "", nil
		case <-c.ctx.Done():
			return "", errClosing
		}
	}
}

// widenGrace is how long a widened round waits for the providers that are
// not candidates once its candidates have answered, and its shortest
// window (the testnet's is 250 ms).
const widenGrace = time.Second

// evaluate runs the round's answers through the scheduler's pipeline
// (checks, fit against the providers' records, reputation; then the
// job's policy) and reports bids, declines and rejections.
func (c *Client) evaluate(t *ticket, r *round, records map[peer.ID]*job.Capacity, out *job.Outcome, emit func(job.Event)) {
	s := t.sub.Spec
	recordOf := func(provider string) *job.Capacity {
		if p, err := peer.Decode(provider); err == nil {
			return records[p]
		}
		return nil
	}
	runOf := func(provider string) time.Duration {
		var score job.Score
		if rec := recordOf(provider); rec != nil {
			score = rec.Score
		}
		return scheduler.RunEstimate(s, score)
	}
	// The wait on each bid: its own, plus this client's awards there since
	// it arrived (one value per bid for the check and the ranking alike).
	waits := map[string]time.Duration{}
	waitOf := func(b *job.Bid) time.Duration {
		if w, ok := waits[b.Provider]; ok {
			return w
		}
		bl := c.backlog.of(b.Provider, r.arrived[b.Provider], recordOf(b.Provider), s, runOf(b.Provider))
		waits[b.Provider] = bl.Wait(b)
		return waits[b.Provider]
	}
	now := c.now()
	checks := append(scheduler.Checks(t.id, s, now), scheduler.Fits(r.need, recordOf), scheduler.MinReputation(s.MinReputation, c.reputation),
		scheduler.CarbonFollows(recordOf, now, s.CarbonRun()), scheduler.MaxCarbon(s), scheduler.MeetsDeadline(t.sub.Deadline, now, waitOf))
	transfer := scheduler.Transfers(scheduler.Feasible(r.answers, checks), c.bandwidth.of)
	est := func(b *job.Bid) scheduler.Option {
		o := scheduler.Option{RTT: c.rttOf(b.Provider), Wait: waitOf(b), Run: runOf(b.Provider), Transfer: transfer(b)}
		o.Reputation, _ = c.reputation(b.Provider)
		return o
	}
	policy := scheduler.PolicyOf(s)
	policy.MaxWait = t.sub.MaxWait
	r.ev = scheduler.Evaluate(r.answers, checks, policy, est)
	for _, b := range r.answers {
		if b.Decline != "" {
			out.Declines++
		} else {
			out.Bids++
		}
	}
	for _, rj := range r.ev.Rejected {
		if rj.Bid.Decline == "" {
			emit(job.Event{Kind: job.EventRejected, Provider: rj.Bid.Provider, Price: rj.Bid.Price, Message: rj.Reason, Reject: rj.Code})
		}
	}
}

// openAuction takes the bids for job id into p until the returned
// function is called.
func (c *Client) openAuction(id string, p *pending) (close func()) {
	c.mu.Lock()
	c.auctions[id] = p
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		if c.auctions[id] == p {
			delete(c.auctions, id)
		}
		c.mu.Unlock()
	}
}

// protect keeps the connections to peers open (the connection manager
// does not trim them) until the returned func is called.
func (c *Client) protect(peers []peer.ID, tag string) func() {
	cm := c.mesh.Host().ConnManager()
	for _, p := range peers {
		cm.Protect(p, tag)
	}
	return func() {
		for _, p := range peers {
			cm.Unprotect(p, tag)
		}
	}
}

// silentUnconnected reports whether a candidate that has not answered p's
// auction has no connection to this node.
func (c *Client) silentUnconnected(cands []peer.ID, p *pending) bool {
	answered := p.arrivals()
	for _, q := range cands {
		if _, ok := answered[q.String()]; !ok && c.mesh.Host().Network().Connectedness(q) == network.NotConnected {
			return true
		}
	}
	return false
}
