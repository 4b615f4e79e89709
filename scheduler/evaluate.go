package scheduler

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/market"
)

// Option is a bid that has passed every feasibility check, with what the
// client measured and estimated of its provider.
type Option struct {
	Bid job.Bid
	// RTT is the round-trip time to the provider; 0 when unknown (ranked
	// last under the latency policy).
	RTT time.Duration
	// Wait is how long the job would wait in the provider's queue: its
	// bid's estimate, plus what the client awarded there since the bid
	// (Backlog.Wait); Run the job's estimated run time on its hardware;
	// Transfer the time to bring it the inputs it lacks (Transfers).
	Wait, Run, Transfer time.Duration
	// Reputation is the client's view of the provider (0 to 1; 0 when
	// unknown, which counts as a newcomer's 0.5).
	Reputation float64
	// Score is the policy's score (lower wins), set by Policy.Score;
	// Emissions the job's estimated emissions there (its energy at the
	// bid's carbon intensity; 0 when it declares none), set with it.
	Score     float64
	Emissions job.Carbon
}

// Latency is the option's expected time to a result: RTT + queue wait +
// transfer of the inputs it lacks + estimated run time; -1 when the RTT
// is unknown.
func (o *Option) Latency() time.Duration {
	if o.RTT <= 0 {
		return -1
	}
	return o.RTT + o.Wait + o.Transfer + o.Run
}

// Estimator fills in what the client knows of a bidder: RTT, queue wait and
// estimated run time.
type Estimator func(b *job.Bid) Option

// RunEstimate scales a job's expected run time on the reference machine by
// a provider's benchmark score (0 when either is unknown).
func RunEstimate(s *job.Spec, score job.Score) time.Duration {
	if s.ExpectedMS <= 0 {
		return 0
	}
	d := time.Duration(s.ExpectedMS) * time.Millisecond
	if score.HashMBps > 0 {
		d = time.Duration(float64(d) * job.ReferenceHashMBps / score.HashMBps)
	}
	return d
}

// Rejection is a bid or decline that did not pass: which check it failed
// (Code) and why, in words (Reason).
type Rejection struct {
	Bid    job.Bid
	Code   job.RejectReason
	Reason string
}

// Check is one feasibility check: Test returns why the bid cannot win, or
// "" when it passes; a bid it fails is rejected with Code.
type Check struct {
	Code job.RejectReason
	Test func(b *job.Bid) string
}

// Checks returns the standard feasibility pipeline for a job: the answer
// must be a bid (not a decline) for this job, unexpired at now, in the
// region, within the max price, and its price must be what its rates give
// for the job (a provider cannot claim a price its rates do not support).
func Checks(jobID string, s *job.Spec, now time.Time) []Check {
	return []Check{
		{job.RejectDeclined, func(b *job.Bid) string {
			if b.Decline != "" {
				if b.Detail != "" {
					return "declined: " + string(b.Decline) + " (" + b.Detail + ")"
				}
				return "declined: " + string(b.Decline)
			}
			return ""
		}},
		{job.RejectOtherJob, func(b *job.Bid) string {
			if b.Job != jobID {
				return "bid for another job " + b.Job
			}
			return ""
		}},
		{job.RejectExpired, func(b *job.Bid) string {
			if b.ExpiresMS != 0 && now.UnixMilli() > b.ExpiresMS {
				return "bid expired"
			}
			return ""
		}},
		{job.RejectRegion, func(b *job.Bid) string {
			if !job.RegionMatches(s.Region, b.Region) {
				return fmt.Sprintf("region %s is not %s", b.Region, s.Region)
			}
			for _, g := range s.NotRegions {
				if job.RegionMatches(g, b.Region) {
					return fmt.Sprintf("region %s is excluded by %s", b.Region, g)
				}
			}
			return ""
		}},
		{job.RejectRates, func(b *job.Bid) string {
			want, err := market.Price(b.Rates, s.Resources, s.Timeout())
			if err != nil {
				return "price: " + err.Error()
			}
			if want != b.Price {
				return fmt.Sprintf("price %s does not follow from its rates (%s)", b.Price, want)
			}
			return ""
		}},
		{job.RejectMaxPrice, func(b *job.Bid) string {
			if s.MaxPrice > 0 && b.Price > s.MaxPrice {
				return fmt.Sprintf("price %s is over the max price %s", b.Price, s.MaxPrice)
			}
			return ""
		}},
	}
}

// Fits is the feasibility check against bidders' signed capacity records:
// a bidder whose record says it cannot serve need does not win, whatever
// its bid claims. record returns nil for a bidder without a known record.
func Fits(need job.Need, record func(provider string) *job.Capacity) Check {
	return Check{job.RejectCapacity, func(b *job.Bid) string {
		if rec := record(b.Provider); rec != nil {
			if why := rec.Mismatch(need); why != "" {
				return "its capacity record says: " + why
			}
		}
		return ""
	}}
}

// MinReputation is the reputation filter: a bidder whose reputation (0 to
// 1) is known and below min does not win. rep reports false for a bidder
// it knows nothing of (which passes: every provider starts somewhere).
func MinReputation(min float64, rep func(provider string) (float64, bool)) Check {
	return Check{job.RejectReputation, func(b *job.Bid) string {
		if min <= 0 || rep == nil {
			return ""
		}
		if r, ok := rep(b.Provider); ok && r < min {
			return fmt.Sprintf("reputation %.2f is below %.2f", r, min)
		}
		return ""
	}}
}

// Policy is how feasible options are ranked: by price (cost), by expected
// time to a result (latency), or by a weighted sum of both, each as a ratio
// to the best option's (balanced).
type Policy struct {
	Name    string
	Weights job.Weights
	// MaxWait, when positive, is a soft bound on the queue wait (a
	// batch's: see client.Submission.MaxWait): an option that would wait
	// longer ranks after every option within it, and those past it rank
	// by the earliest start, then as the policy says. Nothing is rejected
	// for it (MeetsDeadline is the hard bound).
	MaxWait time.Duration
	// Energy is the job's expected energy in watt-hours (job.Spec.Energy),
	// which each bid's carbon intensity turns into its estimated emissions.
	Energy float64
}

// PolicyOf returns the policy a spec asks for.
func PolicyOf(s *job.Spec) Policy {
	return Policy{Name: s.Policy, Weights: s.Weights, Energy: s.Energy()}
}

// unknownLatency ranks an option whose RTT is unknown after every known one.
const unknownLatency = float64(1 << 62)

// Score sets each option's Score under p (lower wins), and its Emissions.
func (p Policy) Score(opts []Option) {
	noteEmissions(opts, p.Energy)
	switch p.Name {
	case job.PolicyLatency:
		for i := range opts {
			opts[i].Score = latencyScore(&opts[i])
		}
	case job.PolicyGreen:
		for i := range opts {
			opts[i].Score = scoreGreen(&opts[i], p.Energy)
		}
	case job.PolicyBalanced:
		p.scoreBalanced(opts)
	default:
		for i := range opts {
			opts[i].Score = float64(opts[i].Bid.Price)
		}
	}
}

// latencyScore is an option's latency as a score: unknown ones last.
func latencyScore(o *Option) float64 {
	if l := o.Latency(); l >= 0 {
		return float64(l)
	}
	return unknownLatency
}

// scoreBalanced is policy balanced's score: the weighted sum of price,
// latency, reputation and emissions, each over the best option's.
func (p Policy) scoreBalanced(opts []Option) {
	w := p.Weights.Normalized()
	minPrice, minLat, bestRep := unknownLatency, unknownLatency, 0.0
	rep := func(o *Option) float64 {
		if o.Reputation <= 0 {
			return 0.5
		}
		return o.Reputation
	}
	for i := range opts {
		minPrice = min(minPrice, float64(opts[i].Bid.Price))
		minLat = min(minLat, latencyScore(&opts[i]))
		bestRep = max(bestRep, rep(&opts[i]))
	}
	ratio := func(v, best float64) float64 {
		if best <= 0 {
			best = 1 // a free bid or a zero latency: compare in units
		}
		return v / best
	}
	var carbon []float64
	if w.Carbon > 0 {
		carbon = carbonTerms(opts)
	}
	for i := range opts {
		// A bidder of unknown RTT counts as four times the best known
		// latency; with none known, latency does not tell them apart.
		latTerm := 1.0
		if minLat < unknownLatency {
			latTerm = 4
			if l := latencyScore(&opts[i]); l < unknownLatency {
				latTerm = ratio(l, minLat)
			}
		}
		opts[i].Score = w.Cost*ratio(float64(opts[i].Bid.Price), minPrice) + w.Latency*latTerm
		if w.Reputation > 0 {
			opts[i].Score += w.Reputation * bestRep / max(rep(&opts[i]), 0.01)
		}
		if w.Carbon > 0 {
			opts[i].Score += w.Carbon * carbon[i]
		}
	}
}

// compare orders two scored options: score, then price, then latency, then
// the provider ID, so that ties are always broken the same way.
func compare(a, b *Option) int {
	if c := cmp.Compare(a.Score, b.Score); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Bid.Price, b.Bid.Price); c != 0 {
		return c
	}
	la, lb := a.Latency(), b.Latency()
	if la < 0 {
		la = 1<<63 - 1
	}
	if lb < 0 {
		lb = 1<<63 - 1
	}
	if c := cmp.Compare(la, lb); c != 0 {
		return c
	}
	return strings.Compare(a.Bid.Provider, b.Bid.Provider)
}

// Evaluation is the outcome of Evaluate: the feasible options, best first,
// and the rejected answers with their reasons.
type Evaluation struct {
	Ranked   []Option
	Rejected []Rejection
}

// Evaluate runs answers through checks (feasibility), scores the survivors
// under the policy (ranking) and orders them best first (selection: the
// first wins, the rest are its ordered backups; under a MaxWait those
// within it come first). est fills in what the client knows of each
// bidder; nil leaves it unknown.
func Evaluate(answers []job.Bid, checks []Check, p Policy, est Estimator) Evaluation {
	var ev Evaluation
next:
	for _, b := range answers {
		for _, c := range checks {
			if why := c.Test(&b); why != "" {
				ev.Rejected = append(ev.Rejected, Rejection{Bid: b, Code: c.Code, Reason: why})
				continue next
			}
		}
		o := Option{Bid: b}
		if est != nil {
			o = est(&b)
			o.Bid = b
		}
		ev.Ranked = append(ev.Ranked, o)
	}
	p.Score(ev.Ranked)
	slices.SortStableFunc(ev.Ranked, func(a, b Option) int {
		if c := overBound(p.MaxWait, &a, &b); c != 0 {
			return c
		}
		return compare(&a, &b)
	})
	return ev
}

// Pay is what the option ranked[i] is paid at most under an auction rule:
// its own price under first-price; under second-price the price of the
// next option in the ranking (the runner-up's), never less than its own.
func Pay(rule string, ranked []Option, i int) job.Credits {
	own := ranked[i].Bid.Price
	if rule != job.AuctionSecondPrice || i+1 >= len(ranked) {
		return own
	}
	return max(own, ranked[i+1].Bid.Price)
}

// Why explains in words why ranked[i] is placed where it is under policy.
func Why(policy string, ranked []Option, i int) string {
	o := ranked[i]
	var s string
	switch policy {
	case job.PolicyLatency:
		s = "lowest expected latency " + fmtLatency(&o)
		if i+1 < len(ranked) {
			s += " (next " + fmtLatency(&ranked[i+1]) + ")"
		}
	case job.PolicyGreen:
		s = whyGreen(ranked, i)
	case job.PolicyBalanced:
		s = fmt.Sprintf("best balanced score %.3f: price %s, latency %s", o.Score, o.Bid.Price, fmtLatency(&o))
		if o.Bid.Carbon > 0 {
			s += fmt.Sprintf(", emissions %s at %s", o.Emissions, o.Bid.Carbon)
		}
		if i+1 < len(ranked) {
			s += fmt.Sprintf(" (next %.3f)", ranked[i+1].Score)
		}
	default:
		s = fmt.Sprintf("lowest price %s credits", o.Bid.Price)
		if i+1 < len(ranked) {
			s += fmt.Sprintf(" (next %s)", ranked[i+1].Bid.Price)
		}
	}
	if i > 0 {
		s = "backup #" + fmt.Sprint(i) + ": " + s
	}
	return s + fmt.Sprintf(" among %d bids", len(ranked))
}

// fmtLatency formats an option's expected latency with its parts, e.g.
// "3.10ms (RTT 1.10ms + wait 2s)".
func fmtLatency(o *Option) string {
	if o.Latency() < 0 {
		return "unknown"
	}
	s := fmtRTT(o.Latency())
	if o.Wait > 0 || o.Run > 0 || o.Transfer > 0 {
		s += " (RTT " + fmtRTT(o.RTT)
		if o.Wait > 0 {
			s += fmt.Sprintf(" + wait %v", o.Wait.Round(time.Millisecond))
		}
		if o.Transfer > 0 {
			s += fmt.Sprintf(" + inputs %v", o.Transfer.Round(time.Millisecond))
		}
		if o.Run > 0 {
			s += fmt.Sprintf(" + run %v", o.Run.Round(time.Millisecond))
		}
		s += ")"
	}
	return s
}

func fmtRTT(d time.Duration) string {
	if d <= 0 {
		return "unknown"
	}
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}
