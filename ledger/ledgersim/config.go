package ledgersim

import (
	"errors"
	"fmt"

	"github.com/computemesh/computemesh/ledger"
)

// Config describes one simulated network and its load. Zero fields take
// the defaults of DefaultConfig (Clients: a fifth of Nodes), but for Seed
// and History, whose zero is a value.
type Config struct {
	// Nodes is the size of the network.
	Nodes int `json:"nodes"`
	// Clients is how many nodes pay for jobs; the rest are providers,
	// which are paid and are the DHT servers (the holders).
	Clients int `json:"clients"`
	// JobsPerSecond is the network's job rate (Poisson arrivals).
	JobsPerSecond float64 `json:"jobs_per_second"`
	// Seconds is the simulated time (a simulated clock: nothing sleeps).
	Seconds float64 `json:"seconds"`
	// Seed makes the keys, the workload and so the counts reproducible.
	Seed uint64 `json:"seed"`
	// GossipDegree is the GossipSub mesh degree D: today each node
	// receives each gossiped message D times.
	GossipDegree int `json:"gossip_degree"`
	// Publishers is how many times each receipt is published today: 2,
	// its payer and its payee each published it (node/credits.go before
	// the change), each publication a distinct GossipSub message; 1, the
	// payer alone.
	Publishers int `json:"publishers"`
	// SampleNodes is how many nodes run today's design in full. Every
	// node does the same work there (each verifies every receipt), so a
	// sample stands for all of them; Nodes full books each verifying
	// every receipt would take hours at 10,000 nodes.
	SampleNodes int `json:"sample_nodes"`
	// Holders is how many DHT servers keep each account (ledger.HolderCount).
	Holders int `json:"holders"`
	// History is how many receipts each client made before the measured
	// window, dated over the day before it (held by it, its holders and
	// today's books; not counted). A judge's first sync of a client
	// carries the client's whole history (up to ledger.MaxSyncRecords
	// records), so its cost grows with it; a later one (SinceMS) leaves
	// out what the judge counts already.
	History int `json:"history"`
}

// DefaultConfig is the full case: 10,000 nodes, 2,000 of them clients,
// 1,000 jobs a second for 5 simulated seconds.
func DefaultConfig() Config {
	return Config{
		Nodes:         10_000,
		Clients:       2_000,
		JobsPerSecond: 1_000,
		Seconds:       5,
		Seed:          1,
		GossipDegree:  6,
		Publishers:    2,
		SampleNodes:   8,
		Holders:       ledger.HolderCount,
	}
}

// withDefaults fills c's zero fields.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Nodes == 0 {
		c.Nodes = d.Nodes
	}
	if c.Clients == 0 {
		c.Clients = c.Nodes / 5
	}
	if c.JobsPerSecond == 0 {
		c.JobsPerSecond = d.JobsPerSecond
	}
	if c.Seconds == 0 {
		c.Seconds = d.Seconds
	}
	if c.GossipDegree == 0 {
		c.GossipDegree = d.GossipDegree
	}
	if c.Publishers == 0 {
		c.Publishers = d.Publishers
	}
	if c.SampleNodes == 0 {
		c.SampleNodes = d.SampleNodes
	}
	if c.Holders == 0 {
		c.Holders = d.Holders
	}
	return c
}

// validate checks a configuration with its defaults filled.
func (c Config) validate() error {
	var errs []error
	if c.Nodes < 2 || c.Nodes > 1_000_000 {
		errs = append(errs, fmt.Errorf("nodes: %d, must be 2 to 1,000,000", c.Nodes))
	}
	if c.Clients < 1 || c.Nodes-c.Clients < max(c.Holders, 1) {
		errs = append(errs, fmt.Errorf("clients: %d of %d nodes leaves fewer providers than the %d holders", c.Clients, c.Nodes, c.Holders))
	}
	if c.JobsPerSecond <= 0 || c.Seconds <= 0 || c.JobsPerSecond*c.Seconds > 10_000_000 {
		errs = append(errs, fmt.Errorf("jobs_per_second, seconds: %g jobs/s for %g s, must be positive and at most 10^7 jobs", c.JobsPerSecond, c.Seconds))
	}
	if c.GossipDegree < 1 {
		errs = append(errs, fmt.Errorf("gossip_degree: %d, must be positive", c.GossipDegree))
	}
	if c.Publishers < 1 || c.Publishers > 2 {
		errs = append(errs, fmt.Errorf("publishers: %d, must be 1 (the payer) or 2 (both parties)", c.Publishers))
	}
	if c.SampleNodes < 1 || c.SampleNodes > c.Nodes {
		errs = append(errs, fmt.Errorf("sample_nodes: %d, must be 1 to %d", c.SampleNodes, c.Nodes))
	}
	if c.Holders < 1 {
		errs = append(errs, fmt.Errorf("holders: %d, must be positive", c.Holders))
	}
	if c.History < 0 || c.History >= ledger.MaxSyncRecords {
		errs = append(errs, fmt.Errorf("history: %d, must be 0 to %d", c.History, ledger.MaxSyncRecords-1))
	}
	return errors.Join(errs...)
}
