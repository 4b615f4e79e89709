package scheduler

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/market"
)

// Admitting is one request on its way through the admission pipeline: the
// offer and state it is admitted against, and the answer built so far. A
// check may fill in the bid for the checks after it: "capacity" sets a
// queued bid's position and wait, "price" the quoted rates and the price.
type Admitting struct {
	Offer   *Offer
	State   State
	Request *job.Request
	Bid     job.Bid
}

// AdmitCheck is one admission check, in the manner of Evaluate's
// feasibility checks: Test returns why the request is declined (a code and
// a detail), or "" when it passes. Name says which check it is.
type AdmitCheck struct {
	Name string
	Test func(a *Admitting) (job.DeclineReason, string)
}

// AdmitChecks are Admit's own checks, in order: the client lists, the
// executor, the region, the resources the offer has at all, the disk it
// keeps, what is free now (or room in the queue) and the price.
func AdmitChecks() []AdmitCheck { return slices.Clone(admitChecks) }

var admitChecks = []AdmitCheck{
	{"client", admitClient},
	{"executor", admitExecutor},
	{"region", admitRegion},
	{"resources", admitResources},
	{"disk", admitDisk},
	{"capacity", admitCapacity},
	{"price", admitPrice},
}

// Admission is a provider's whole admission pipeline: its own checks
// before Admit's (Before: what declines any request, such as a drain),
// Admit's (AdmitChecks), then its own after pricing (After: what needs the
// request to be one it could serve, or the price: network access, an image
// present, a command allowed, the client's funds). The first check that
// fails declines.
type Admission struct {
	Before, After []AdmitCheck
}

// Admit runs r through the pipeline against o in state st: a bid with its
// price (and, when it would queue, its position and wait), or the first
// failing check's decline.
func (p Admission) Admit(o *Offer, r *job.Request, st State) job.Bid {
	a := Admitting{Offer: o, State: st, Request: r,
		Bid: job.Bid{V: job.Version, Job: r.Job, Rates: o.Rates, Region: o.Region}}
	for _, checks := range [...][]AdmitCheck{p.Before, admitChecks, p.After} {
		for _, c := range checks {
			if code, why := c.Test(&a); code != "" {
				a.Bid.Decline, a.Bid.Detail = code, why
				a.Bid.Price, a.Bid.Queue, a.Bid.WaitMS = 0, 0, 0
				return a.Bid
			}
		}
	}
	return a.Bid
}

func admitClient(a *Admitting) (job.DeclineReason, string) {
	o, c := a.Offer, a.Request.Client
	if slices.Contains(o.Deny, c) || (len(o.Allow) > 0 && !slices.Contains(o.Allow, c)) {
		return job.DeclineClient, "this provider does not serve client " + c
	}
	return "", ""
}

func admitExecutor(a *Admitting) (job.DeclineReason, string) {
	if !slices.Contains(a.Offer.Executors, a.Request.Executor) {
		return job.DeclineExecutor, "executor " + a.Request.Executor + " not offered"
	}
	return "", ""
}

func admitRegion(a *Admitting) (job.DeclineReason, string) {
	o, r := a.Offer, a.Request
	if r.RegionAllowed(o.Region) {
		return "", ""
	}
	if !job.RegionMatches(r.Region, o.Region) {
		return job.DeclineRegion, fmt.Sprintf("region %s does not match %s", o.Region, r.Region)
	}
	return job.DeclineRegion, fmt.Sprintf("region %s is excluded (not %s)", o.Region, strings.Join(r.NotRegions, ", "))
}

func admitResources(a *Admitting) (job.DeclineReason, string) {
	o := a.Offer
	offered := job.Capacity{Region: o.Region, Executors: o.Executors, Total: o.Capacity, GPUs: o.GPUs}
	if why := offered.Mismatch(a.Request.Resources.Need()); why != "" {
		return job.DeclineResources, fmt.Sprintf("%s (offers at most %s)", why, o.Capacity)
	}
	return "", ""
}

func admitDisk(a *Admitting) (job.DeclineReason, string) {
	o, disk := a.Offer, a.Request.Resources.DiskBytes
	if o.MaxDiskBytes > 0 && disk > o.MaxDiskBytes {
		return job.DeclineResources, fmt.Sprintf("disk %s is over the %s of outputs it keeps", job.FormatSize(disk), job.FormatSize(o.MaxDiskBytes))
	}
	return "", ""
}

// admitCapacity passes a request that fits what is free now with nobody
// queued; when the provider is full (its job cap, what is free, or a queue
// nobody jumps) it bids with a queue position and wait while its queue has
// room, and declines busy once it has none.
func admitCapacity(a *Admitting) (job.DeclineReason, string) {
	o, r, st := a.Offer, a.Request, &a.State
	free, running := st.Free, st.Running
	full := ""
	switch {
	case o.MaxJobs > 0 && running >= o.MaxJobs:
		full = fmt.Sprintf("%d jobs running, the most it runs at once", running)
	case r.Resources.CPUMillis > free.CPUMillis || r.Resources.MemoryBytes > free.MemoryBytes || r.Resources.GPUs > free.GPUs:
		full = fmt.Sprintf("wants %s, free %s", r.Resources, free)
	case st.Queued > 0:
		full = fmt.Sprintf("%d jobs queued", st.Queued) // nobody jumps the queue
	}
	if full == "" {
		return "", ""
	}
	if st.Queued >= o.QueueLimit {
		if o.QueueLimit > 0 {
			full += fmt.Sprintf(", queue full (%d)", st.Queued)
		}
		return job.DeclineBusy, full
	}
	a.Bid.Queue = st.Queued + 1
	per := st.AvgRun
	if per <= 0 {
		per = r.Timeout() / 2 // nothing measured yet: half the timeout
	}
	a.Bid.WaitMS = (time.Duration(a.Bid.Queue) * per / time.Duration(max(running, 1))).Milliseconds()
	return "", ""
}

// admitPrice quotes the request (the GPU model's rate, the surge) and
// prices it, declining a price over the request's max.
func admitPrice(a *Admitting) (job.DeclineReason, string) {
	o, r := a.Offer, a.Request
	a.Bid.Rates = o.quote(r, a.State.Free)
	p, err := market.Price(a.Bid.Rates, r.Resources, r.Timeout())
	if err != nil {
		return job.DeclinePrice, err.Error()
	}
	if r.MaxPrice > 0 && p > r.MaxPrice {
		if p == a.Bid.Rates.Floor {
			return job.DeclinePrice, fmt.Sprintf("price floor %s over max %s", p, r.MaxPrice)
		}
		return job.DeclinePrice, fmt.Sprintf("price %s over max %s", p, r.MaxPrice)
	}
	a.Bid.Price = p
	return "", ""
}
