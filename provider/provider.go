package provider

import (
	"context"
	"fmt"
	"github.com/computemesh/computemesh/award"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/computemesh/computemesh/content"
	"github.com/computemesh/computemesh/executor"
	"github.com/computemesh/computemesh/internal/owned"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/mesh"
	"github.com/computemesh/computemesh/scheduler"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Provider is a node's provider role (see the package doc). It is safe for
// concurrent use.
type Provider struct {
	opts    Options
	now     func() time.Time
	log     Logger
	metrics Metrics

	// exec holds the executors this provider offers, by name (job.Executor*):
	// "wasm" always, the others only when the owner enabled them and they
	// work (see setupExecutors). A job runs on exec[spec.Executor].
	exec   map[string]executor.Executor
	docker *executor.Docker // exec["docker"], for image checks; nil unless offered
	cmds   *executor.Exec   // exec["exec"], for allowlist checks; nil unless offered
	// confinement describes how exec commands run; "" unless offered.
	confinement string
	images      imageCache

	record   job.Capacity // the capacity as probed and configured
	offer    scheduler.Offer
	reserved *scheduler.Reservations
	modules  *mesh.BlobCache
	bids     *bidBook      // job ID → the bid this provider made
	reqs     *requestQueue // job requests waiting for an answer
	runTimes runTimes      // recent run times, for queued bids' wait estimates
	dirs     workDirs      // runs' inputs and outputs directories
	announce chan struct{} // closed once capabilities are on the DHT
	pub      *publisher
	carbon   *carbonSource // its declared carbon intensity

	draining  atomic.Bool
	drainOnce sync.Once
	drained   chan struct{}

	// What Start brings.
	mesh           Mesh
	publishOutputs func(root string, blocks []string) // Deps.Publish
	content        *content.Content
	credits        Credits
	self           peer.ID
	selfID         string // self.String(), made once

	ctx    context.Context
	cancel context.CancelFunc
	own    owned.Group // every goroutine and stream handler of the provider
}

// New makes a provider from o before the mesh exists: it probes the
// machine (unless o.Hardware says what it has), builds the capacity record
// and the offer, and starts the executors. ctx bounds the probe and the
// executors' first checks. Errors that are the configuration's match
// ErrConfig.
func New(ctx context.Context, o Options) (*Provider, error) {
	o.defaults()
	p := &Provider{
		opts: o, now: o.Now, log: o.Log, metrics: o.Metrics,
		bids: newBidBook(), reqs: newRequestQueue(),
		announce: make(chan struct{}), drained: make(chan struct{}),
	}
	if o.DataDir != "" {
		p.dirs.base = filepath.Join(o.DataDir, "runs")
	}
	p.ctx, p.cancel = context.WithCancel(context.Background()) // until Start
	if err := p.setup(ctx); err != nil {
		p.cancel()
		return nil, err
	}
	return p, nil
}

// Start brings the provider up on the node's mesh: it answers the job
// requests of its classes (GPU jobs only with a GPU), serves the award,
// hold and challenge protocols, announces its capabilities, keeps its
// capacity record on the DHT and expires its bids. ctx is its lifetime:
// once it is done the provider's work ends and nothing new starts (Close
// then waits for what runs). On an error the caller closes the provider.
func (p *Provider) Start(ctx context.Context, d Deps) error {
	p.mesh, p.content, p.credits, p.publishOutputs = d.Mesh, d.Content, d.Credits, d.Publish
	p.self = d.Mesh.Host().ID()
	p.selfID = p.self.String()
	p.cancel()
	p.ctx, p.cancel = context.WithCancel(ctx)
	context.AfterFunc(p.ctx, p.own.Stop)
	classes := []string{mesh.ClassCPU}
	if len(p.record.GPUs) > 0 {
		classes = append(classes, mesh.ClassGPU) // a CPU-only provider never hears GPU jobs
	}
	if err := p.mesh.OnRequest(p.reqs.push, classes...); err != nil {
		return err
	}
	for range requestWorkers {
		p.own.Go(p.answerRequests)
	}
	p.serve(award.Protocol, p.handleAward) // the award protocol's provider end
	p.serve(job.ProtocolHold, p.handleHold)
	p.record.Peer = p.self.String()
	if err := p.record.Validate(); err != nil {
		return fmt.Errorf("capacity record: %w", err)
	}
	p.serveChallenges()
	p.mesh.Announce(capabilities(&p.record), p.announce)
	p.startPublisher(p.record)
	p.own.Go(p.expireBids)
	return nil
}

// serve handles the protocol proto with h, each stream's handler owned by
// the provider: Close waits for it, and a stream that arrives once the
// provider is closing is reset.
func (p *Provider) serve(proto string, h network.StreamHandler) {
	p.mesh.Host().SetStreamHandler(p.mesh.Protocol(proto), p.own.Handler(h))
}

// Close ends the provider's work, waits for its goroutines and stream
// handlers (a run in flight is cancelled: "the provider is shutting
// down"), and closes its executors. The node closes the mesh first, so
// that no stream keeps a handler waiting.
func (p *Provider) Close() error {
	p.own.Stop()
	p.cancel()
	p.own.Wait()
	p.closeExec()
	p.dirs.close()
	return nil
}

// Announced is closed once the provider's capabilities are on the DHT.
func (p *Provider) Announced() <-chan struct{} { return p.announce }

// Reservations are what the provider has promised to running jobs and
// what waits in its queue.
func (p *Provider) Reservations() *scheduler.Reservations { return p.reserved }

// ExecConfinement says how exec commands run ("" unless exec is offered).
func (p *Provider) ExecConfinement() string { return p.confinement }

// HashScore is the provider's measured SHA-256 MB/s per core (0 when its
// record's score is simulated or unknown).
func (p *Provider) HashScore() float64 {
	if p.record.Simulated {
		return 0
	}
	return p.record.Score.HashMBps
}

// StandingBids returns how many bids this provider keeps, and how many of
// them are held as backups.
func (p *Provider) StandingBids() (total, held int) { return p.bids.size() }

// Committed returns what a client's standing bids here commit, and how
// many they are.
func (p *Provider) Committed(client string) (job.Credits, int) { return p.bids.committed(client) }

// HasBid says whether the provider keeps a standing bid for a job.
func (p *Provider) HasBid(jobID string) bool {
	_, ok := p.bids.get(jobID)
	return ok
}

// Shed returns how many job requests were dropped unanswered (their
// client's queue, or the whole queue, was full).
func (p *Provider) Shed() int64 { return p.reqs.shed.Load() }
