package client

import (
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
)

func TestMarketRates(t *testing.T) {
	t.Parallel()
	var m marketWatch
	now := time.Now()
	for i := range 10 {
		m.add(marketBid{at: now, provider: "p" + string(rune('a'+i%5)), class: MarketCPU, region: "eu-west", rate: job.Credits(i+1) * job.Nano})
	}
	m.add(marketBid{at: now.Add(-2 * time.Hour), provider: "old", class: MarketCPU, region: "us-east", rate: 1000 * job.Nano})
	m.add(marketBid{at: now, provider: "g", class: MarketGPU + ":h100", region: "us-east", rate: 7 * job.Nano})
	got := m.rates(now, time.Hour)
	if len(got) != 2 {
		t.Fatalf("rates %+v, want two classes", got)
	}
	cpu := got[0]
	if cpu.Class != MarketCPU || cpu.Bids != 10 || cpu.Providers != 5 || cpu.P10 != 2*job.Nano || cpu.Median != 6*job.Nano || cpu.P90 != 9*job.Nano {
		t.Fatalf("cpu %+v: want 10 bids of 5 providers, p10 2, median 6, p90 9 (the old bid outside the window)", cpu)
	}
	if gpu := got[1]; gpu.Class != "gpu-hour:h100" || gpu.Median != 7*job.Nano || len(gpu.Regions) != 1 {
		t.Fatalf("gpu %+v", gpu)
	}
	// The ring keeps the newest marketKept.
	for range marketKept + 5 {
		m.add(marketBid{at: now, provider: "x", class: MarketCPU, rate: job.Nano})
	}
	if n := len(m.bids); n != marketKept {
		t.Fatalf("%d kept, want %d", n, marketKept)
	}
}
