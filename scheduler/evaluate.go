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
// client measured of its provider.
type Option struct {
	Bid job.Bid
	// RTT is the round-trip time to the provider; 0 when unknown (ranked
	// last under the latency policy).
	RTT time.Duration
}

// Rejection is a bid or decline that did not pass, with the reason.
type Rejection struct {
	Bid    job.Bid
	Reason string
}

// Check is one feasibility check: it returns why the bid cannot win, or "".
type Check func(b *job.Bid) string

// Ranker orders feasible options: it returns <0 when a should win over b.
type Ranker func(a, b *Option) int

// Checks returns the standard feasibility pipeline for a job: the answer
// must be a bid (not a decline) for this job, unexpired at now, in the
// region, within the max price, and its price must be what its rates give
// for the job (a provider cannot claim a price its rates do not support).
func Checks(jobID string, s *job.Spec, now time.Time) []Check {
	return []Check{
		func(b *job.Bid) string {
			if b.Decline != "" {
				if b.Detail != "" {
					return "declined: " + b.Decline + " (" + b.Detail + ")"
				}
				return "declined: " + b.Decline
			}
			return ""
		},
		func(b *job.Bid) string {
			if b.Job != jobID {
				return "bid for another job " + b.Job
			}
			return ""
		},
		func(b *job.Bid) string {
			if b.ExpiresMS != 0 && now.UnixMilli() > b.ExpiresMS {
				return "bid expired"
			}
			return ""
		},
		func(b *job.Bid) string {
			if !job.RegionMatches(s.Region, b.Region) {
				return fmt.Sprintf("region %s is not %s", b.Region, s.Region)
			}
			return ""
		},
		func(b *job.Bid) string {
			want, err := market.Price(b.Rates, s.Resources, s.Timeout())
			if err != nil {
				return "price: " + err.Error()
			}
			if want != b.Price {
				return fmt.Sprintf("price %s does not follow from its rates (%s)", b.Price, want)
			}
			return ""
		},
		func(b *job.Bid) string {
			if s.MaxPrice > 0 && b.Price > s.MaxPrice {
				return fmt.Sprintf("price %s is over the max price %s", b.Price, s.MaxPrice)
			}
			return ""
		},
	}
}

// ByCost ranks the lowest price first.
func ByCost(a, b *Option) int { return cmp.Compare(a.Bid.Price, b.Bid.Price) }

// ByLatency ranks the lowest known RTT first; unknown RTTs come last.
func ByLatency(a, b *Option) int {
	ra, rb := a.RTT, b.RTT
	if ra <= 0 {
		ra = time.Duration(1<<63 - 1)
	}
	if rb <= 0 {
		rb = time.Duration(1<<63 - 1)
	}
	return cmp.Compare(ra, rb)
}

// RankerFor returns the ranker of a policy, then the other criterion, then
// the provider ID so that ties are always broken the same way.
func RankerFor(policy string) Ranker {
	first, second := ByCost, ByLatency
	if policy == job.PolicyLatency {
		first, second = ByLatency, ByCost
	}
	return func(a, b *Option) int {
		if c := first(a, b); c != 0 {
			return c
		}
		if c := second(a, b); c != 0 {
			return c
		}
		return strings.Compare(a.Bid.Provider, b.Bid.Provider)
	}
}

// Evaluation is the outcome of Evaluate: the feasible options, best first,
// and the rejected answers with their reasons.
type Evaluation struct {
	Ranked   []Option
	Rejected []Rejection
}

// Evaluate runs answers through checks, then ranks the survivors. rtt gives
// the measured RTT of a provider (0 when unknown).
func Evaluate(answers []job.Bid, checks []Check, rank Ranker, rtt func(provider string) time.Duration) Evaluation {
	var ev Evaluation
next:
	for _, b := range answers {
		for _, c := range checks {
			if why := c(&b); why != "" {
				ev.Rejected = append(ev.Rejected, Rejection{Bid: b, Reason: why})
				continue next
			}
		}
		o := Option{Bid: b}
		if rtt != nil {
			o.RTT = rtt(b.Provider)
		}
		ev.Ranked = append(ev.Ranked, o)
	}
	slices.SortStableFunc(ev.Ranked, func(a, b Option) int { return rank(&a, &b) })
	return ev
}

// Why explains in words why ranked[i] is placed where it is under policy.
func Why(policy string, ranked []Option, i int) string {
	o := ranked[i]
	var s string
	switch policy {
	case job.PolicyLatency:
		s = fmt.Sprintf("lowest RTT %s", fmtRTT(o.RTT))
		if i+1 < len(ranked) {
			s += fmt.Sprintf(" (next %s)", fmtRTT(ranked[i+1].RTT))
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

func fmtRTT(d time.Duration) string {
	if d <= 0 {
		return "unknown"
	}
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}
