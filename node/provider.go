package node

import (
	"context"
	"errors"
	"fmt"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/provider"
)

// The provider role is package provider (n.provider, nil for a client);
// what follows makes it from the node's configuration, starts it on the
// mesh and answers for it.

// DefaultRecordTTL is how long a provider's capacity record is valid; it is
// re-signed and stored again at a third of that, and when what is free
// changes.
const DefaultRecordTTL = provider.DefaultRecordTTL

// DefaultBidGrace is how long a bid stands beyond its request's bid window
// unless it is held.
const DefaultBidGrace = provider.DefaultBidGrace

// WASMCacheEnv names the environment variable that sets where a provider
// keeps the WASM executor's compiled code (see provider.WASMCacheEnv).
const WASMCacheEnv = provider.WASMCacheEnv

// Simulated declares capacity a provider does not have: test networks only
// (network names starting with "test", and "devnet"). The record says so.
type Simulated = provider.Simulated

// SimulationAllowed reports whether a network may carry simulated
// capacity, test identities and injected delay.
func SimulationAllowed(network string) bool { return provider.SimulationAllowed(network) }

// providerOptions are the provider's options from the node's configuration.
func providerOptions(cfg Config, m *metrics, s *session) provider.Options {
	return provider.Options{
		Network: cfg.Network, DataDir: cfg.DataDir,
		Region: cfg.Region, Rates: cfg.Rates, Capacity: cfg.Capacity,
		Hardware: cfg.Hardware, Simulated: cfg.Simulated, RecordTTL: cfg.RecordTTL,
		Executors: cfg.Executors, ExecAllow: cfg.ExecAllow, ExecUnconfined: cfg.ExecUnconfined, ExecEnv: cfg.ExecEnv,
		AllowJobNetwork: cfg.AllowJobNetwork, AllowURLInputs: cfg.AllowURLInputs, DockerPull: cfg.DockerPull, WASMCacheDir: cfg.WASMCacheDir,
		MaxJobs: cfg.MaxJobs, AllowClients: cfg.AllowClients, DenyClients: cfg.DenyClients,
		PriceFloor: cfg.PriceFloor, GPURates: cfg.GPURates, Surge: cfg.Surge, Queue: cfg.Queue,
		Balances: cfg.Faucet != "", BidGrace: cfg.BidGrace, Carbon: cfg.CarbonIntensity, CarbonForecast: cfg.CarbonForecast,
		Now:     cfg.Clock,
		Metrics: provider.Metrics{Answers: m.answers, Runs: m.runs, Earned: m.earned, Unreceipted: m.unreceipted},
		Earn:    s.earn,
		Log:     log,
	}
}

// newProvider makes the provider before the mesh exists: it probes the
// machine and starts the executors.
func (n *Node) newProvider(ctx context.Context) error {
	p, err := provider.New(ctx, providerOptions(n.cfg, n.metrics, &n.session))
	if errors.Is(err, provider.ErrConfig) {
		return fmt.Errorf("%w: %v", ErrConfig, err)
	}
	if err != nil {
		return err
	}
	n.provider = p
	return nil
}

// startProvider brings the provider up on the mesh; its work ends with the
// node's context.
func (n *Node) startProvider() error {
	return n.provider.Start(n.ctx, provider.Deps{Mesh: n.mesh, Content: n.content, Credits: n.credits, Publish: n.publish})
}

// closeProvider waits for the provider's goroutines and closes its
// executors.
func (n *Node) closeProvider() error {
	if n.provider == nil {
		return nil
	}
	return n.provider.Close()
}

// Announced is closed once a provider's capabilities are on the DHT (at once
// for a client).
func (n *Node) Announced() <-chan struct{} {
	if n.provider != nil {
		return n.provider.Announced()
	}
	c := make(chan struct{})
	close(c)
	return c
}

// Drain stops the provider from taking new jobs (it declines them as
// busy) and returns a channel closed once the jobs it runs have finished.
// Draining a client, or draining twice, is harmless.
func (n *Node) Drain() <-chan struct{} {
	if n.provider != nil {
		return n.provider.Drain()
	}
	n.drainOnce.Do(func() {
		log.Infow("draining: taking no new jobs", "running", 0)
		close(n.drained)
	})
	return n.drained
}

// Drained is closed once a drain has finished (never, without Drain).
func (n *Node) Drained() <-chan struct{} {
	if n.provider != nil {
		return n.provider.Drained()
	}
	return n.drained
}

// Capacity returns the provider's current record (zero for a client).
func (n *Node) Capacity() job.Capacity {
	if n.provider == nil {
		return job.Capacity{}
	}
	return n.provider.Capacity()
}

// StandingBids returns how many bids this provider keeps, and how many of
// them are held as backups.
func (n *Node) StandingBids() (total, held int) {
	if n.provider == nil {
		return 0, 0
	}
	return n.provider.StandingBids()
}

// providerHashScore is the provider's measured SHA-256 score (0 for a
// client, or a simulated one).
func (n *Node) providerHashScore() float64 {
	if n.provider == nil {
		return 0
	}
	return n.provider.HashScore()
}

// offerInfo fills in what a provider offers and runs.
func (n *Node) offerInfo(in *api.Info) {
	if n.provider == nil {
		return
	}
	rec := n.Capacity()
	r := n.provider.Reservations()
	in.Capacity, in.ExecConfinement = rec.Total, n.provider.ExecConfinement()
	in.Free, in.Running, in.Queued = r.Free(), r.Running(), r.Queued()
	in.Draining = n.provider.Draining()
	in.Record = &rec
}
