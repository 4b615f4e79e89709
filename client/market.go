package client

import (
	"slices"
	"sync"
	"time"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/job"
)

// Market classes of the going rates.
const (
	MarketCPU = "cpu-core-hour" // a bid's CPU rate
	MarketGPU = "gpu-hour"      // a bid's GPU rate (bids for GPU jobs); "gpu-hour:<model>" when the job named one
)

// marketKept bounds the bids a node remembers for its going rates.
const marketKept = 8192

// marketBid is one rate seen in a gossiped bid.
type marketBid struct {
	at       time.Time
	provider string
	class    string
	region   string
	rate     job.Credits
	carbon   job.Intensity
}

// marketWatch keeps the rates of the bids this node has seen, the newest
// marketKept of them, in a ring.
type marketWatch struct {
	mu   sync.Mutex
	bids []marketBid
	next int
}

func (m *marketWatch) add(b marketBid) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.bids) < marketKept {
		m.bids = append(m.bids, b)
		return
	}
	m.bids[m.next] = b
	m.next = (m.next + 1) % marketKept
}

// rates returns the going rates of the bids seen since now-window, by class.
func (m *marketWatch) rates(now time.Time, window time.Duration) []api.Rate {
	m.mu.Lock()
	byClass := map[string][]marketBid{}
	for _, b := range m.bids {
		if now.Sub(b.at) <= window {
			byClass[b.class] = append(byClass[b.class], b)
		}
	}
	m.mu.Unlock()
	out := make([]api.Rate, 0, len(byClass))
	for class, bids := range byClass {
		r := api.Rate{Class: class, Bids: len(bids)}
		rates := make([]job.Credits, len(bids))
		provs := map[string]bool{}
		var carbon []job.Intensity
		for i, b := range bids {
			rates[i] = b.rate
			provs[b.provider] = true
			if b.carbon > 0 {
				carbon = append(carbon, b.carbon)
			}
			if !slices.Contains(r.Regions, b.region) {
				r.Regions = append(r.Regions, b.region)
			}
		}
		slices.Sort(rates)
		slices.Sort(r.Regions)
		at := func(q float64) job.Credits { return rates[int(q*float64(len(rates)-1)+0.5)] }
		r.Providers, r.P10, r.Median, r.P90 = len(provs), at(0.1), at(0.5), at(0.9)
		if len(carbon) > 0 {
			slices.Sort(carbon)
			cat := func(q float64) job.Intensity { return carbon[int(q*float64(len(carbon)-1)+0.5)] }
			r.CarbonBids, r.CarbonP10, r.CarbonMedian = len(carbon), cat(0.1), cat(0.5)
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b api.Rate) int {
		if a.Class < b.Class {
			return -1
		}
		if a.Class > b.Class {
			return 1
		}
		return 0
	})
	return out
}

// observeBid records the rates of a gossiped bid. gpuModel is the model the
// job asked for, when this node knows the job ("" otherwise).
func (c *Client) observeBid(b *job.Bid, gpuModel string, gpuJob bool) {
	if b.Decline != "" {
		return
	}
	now := c.now()
	c.market.add(marketBid{at: now, provider: b.Provider, class: MarketCPU, region: b.Region, rate: b.Rates.CPUHour, carbon: b.Carbon})
	if gpuJob && b.Rates.GPUHour > 0 {
		class := MarketGPU
		if gpuModel != "" {
			class += ":" + gpuModel
		}
		c.market.add(marketBid{at: now, provider: b.Provider, class: class, region: b.Region, rate: b.Rates.GPUHour, carbon: b.Carbon})
	}
}

// Market returns the going rates per resource class in the bids this node
// has heard over window. A node hears bids once it submits a job (clients
// from the start); a provider that never submits hears none.
func (c *Client) Market(window time.Duration) []api.Rate {
	if err := c.mesh.OnBid(c.onBid); err != nil {
		c.log.Debugw("subscribing to bids for the market view", "err", err)
	}
	return c.market.rates(c.now(), window)
}
