package node

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/client"
	"github.com/computemesh/computemesh/internal/idref"
	"github.com/computemesh/computemesh/job"
	"github.com/libp2p/go-libp2p/core/peer"
)

// The client role is package client (n.client); what follows keeps its
// names here for the node's users, and forwards the Node's methods.

// Submission is one job a client asks the mesh to run (client.Submission).
type Submission = client.Submission

// Progress receives a job's events as they happen (client.Progress).
type Progress = client.Progress

// RecordError is a job record file that could not be read
// (client.RecordError).
type RecordError = client.RecordError

// Errors of the client role.
var (
	// ErrBadSubmission wraps what is wrong with a submission before
	// anything is sent.
	ErrBadSubmission = client.ErrBadSubmission
	// ErrUnknownJob means this node has no job by that ID.
	ErrUnknownJob = client.ErrUnknownJob
)

// Job records and market classes (see package client).
const (
	JobsDir          = client.JobsDir
	FinishedJobsKept = client.FinishedJobsKept
	MarketCPU        = client.MarketCPU
	MarketGPU        = client.MarketGPU
)

// openClient starts the node's client role on its mesh, content and
// credits: a client node takes bids and capacity records from the start.
func (n *Node) openClient() error {
	cfg := n.cfg
	c, err := client.New(n.ctx, client.Options{
		Mesh: n.mesh, Content: n.content, Credits: n.credits, Blobs: n.blobs,
		Config: client.Config{
			DataDir: cfg.DataDir, RecordsDir: cfg.RecordsDir, BidWindow: cfg.BidWindow, HeartbeatTimeout: cfg.HeartbeatTimeout,
			BidGrace: cfg.BidGrace, Listen: cfg.Mode == ModeClient,
			MaxAuctions: cfg.MaxAuctions, BusyWait: cfg.BusyWait,
		},
		Metrics: client.Metrics{
			Jobs: n.metrics.jobs, Duration: n.metrics.duration, Auction: n.metrics.auction, Spent: n.metrics.spent, Unreceipted: n.metrics.unreceipted,
		},
		Spend: n.session.spend, OwnScore: n.ownHashScore, Now: cfg.Clock, Log: log, Publish: n.publish,
	})
	if err != nil {
		return err
	}
	n.client = c
	return nil
}

// Submit runs one job through the mesh (see client.Client.Submit).
func (n *Node) Submit(ctx context.Context, sub Submission, progress Progress) (*job.Outcome, error) {
	if err := n.locateInputs(ctx, &sub); err != nil {
		return nil, err
	}
	out, err := n.client.Submit(ctx, sub, progress)
	if out != nil && out.State == job.StateUnscheduled && n.provider != nil {
		out.Error += " (this node is a provider too, and a provider never bids on its own jobs)"
	}
	return out, err
}

// submitDetachable submits sub on the node's own context, not the
// caller's: when ctx ends (an API caller stopped following, Ctrl-C) the
// job goes on, and progress is no longer called; Cancel stops it. With
// detach it returns as soon as the job has its ID, as an outcome of state
// api.JobSubmitted.
func (n *Node) submitDetachable(ctx context.Context, sub Submission, progress Progress, detach bool) (*job.Outcome, error) {
	type result struct {
		out *job.Outcome
		err error
	}
	done, ids := make(chan result, 1), make(chan string, 1)
	var mu sync.Mutex
	following := progress != nil
	forward := func(e job.Event) {
		if e.Job != "" {
			select {
			case ids <- e.Job:
			default:
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if following {
			progress(e)
		}
	}
	if !n.spawn(func() {
		out, err := n.Submit(n.ctx, sub, forward)
		done <- result{out, err}
	}) {
		return nil, fmt.Errorf("node: closing")
	}
	defer func() { // no progress once the caller has gone
		mu.Lock()
		following = false
		mu.Unlock()
	}()
	var id <-chan string
	if detach {
		id = ids
	}
	select {
	case r := <-done:
		return r.out, r.err
	case j := <-id:
		return &job.Outcome{Job: j, State: api.JobSubmitted}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Cancel stops a job this node submitted.
func (n *Node) Cancel(id string) error { return n.client.Cancel(id) }

// Events returns a job's events so far and, with follow, a channel of those
// to come (closed when the job ends; nil when it has ended already).
func (n *Node) Events(id string, follow bool) ([]job.Event, <-chan job.Event, func(), error) {
	return n.client.Events(id, follow)
}

// Jobs lists the jobs this node submitted that its data dir keeps, newest
// first.
func (n *Node) Jobs() []api.JobSummary { return n.client.Jobs() }

// Job returns the record of a job this node submitted, by ID, unique ID
// prefix, or the "prefix…suffix" short form.
func (n *Node) Job(ref string) (*api.JobRecord, error) { return n.client.Job(ref) }

// Reputations returns what this node has seen of each provider, best first.
func (n *Node) Reputations() []api.Reputation { return n.client.Reputations() }

// Market returns the going rates per resource class in the bids this node
// has heard over window.
func (n *Node) Market(window time.Duration) []api.Rate { return n.client.Market(window) }

// FindProviders finds providers through the DHT and reports for each
// whether it matches need.
func (n *Node) FindProviders(ctx context.Context, need job.Need) []api.ProviderInfo {
	return n.client.FindProviders(ctx, need)
}

// Challenge asks provider p to run the benchmark chain on a fresh random
// seed and checks the answer and its time.
func (n *Node) Challenge(ctx context.Context, p peer.ID) (api.ChallengeResult, error) {
	return n.client.Challenge(ctx, p)
}

// ReadJobs reads the job records of a data dir directly (for a node that is
// not running): see client.ReadJobs.
func ReadJobs(dataDir string) ([]api.JobSummary, []error) { return client.ReadJobs(dataDir) }

// ReadJob reads one job's record from a data dir directly (see ReadJobs).
func ReadJob(dataDir, ref string) (*api.JobRecord, error) { return client.ReadJob(dataDir, ref) }

// ResolvePeer returns the peer that ref names: a whole peer ID, or the
// short form or a unique prefix of one this node knows (its peer store:
// the providers it has found or heard of, the peers it met), as the CLI's
// tables print them (idref). When no known peer matches, it looks the
// providers up (FindProviders) and tries again.
func (n *Node) ResolvePeer(ctx context.Context, ref string) (peer.ID, error) {
	if id, err := peer.Decode(strings.TrimSpace(ref)); err == nil {
		return id, nil
	}
	id, err := n.resolveKnownPeer(ref)
	if errors.Is(err, idref.ErrNoMatch) && !strings.ContainsAny(ref, "<>") && strings.TrimSpace(ref) != "" {
		n.FindProviders(ctx, job.Need{})
		id, err = n.resolveKnownPeer(ref)
	}
	return id, err
}

// resolveKnownPeer is ResolvePeer among the peers this node knows now.
func (n *Node) resolveKnownPeer(ref string) (peer.ID, error) {
	known := n.mesh.Host().Peerstore().Peers()
	ids := make([]string, 0, len(known))
	for _, p := range known {
		if p != n.mesh.ID() {
			ids = append(ids, p.String())
		}
	}
	s, err := idref.Resolve(ref, ids, "peer")
	if err != nil {
		return "", fmt.Errorf("peer %s: %w (meshnode providers lists the providers this node finds)", strings.TrimSpace(ref), err)
	}
	return peer.Decode(s)
}
