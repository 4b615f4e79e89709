package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/dashboard"
	"github.com/computemesh/computemesh/internal/idref"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/ledger"
)

type apiServer struct {
	srv  *api.Server
	addr string
}

func startAPI(n *Node, addr, dataDir string) (*apiServer, error) {
	srv, err := api.Listen(addr, dataDir, backend{n}, n.metrics.handler(), api.Pages(dashboard.Handler()))
	if err != nil {
		return nil, err
	}
	return &apiServer{srv: srv, addr: srv.Addr()}, nil
}

func (a *apiServer) close() error { return a.srv.Close() }

// backend adapts a Node to the API.
type backend struct{ n *Node }

func (b backend) Info() api.Info { return b.n.Info() }

func (b backend) Submit(ctx context.Context, r api.SubmitRequest, progress func(job.Event)) (*job.Outcome, error) {
	spec := r.Spec
	sub := Submission{Spec: &spec, Module: r.Module, Secrets: r.Secrets, BidWindow: time.Duration(r.BidWindowMS) * time.Millisecond}
	if r.DeadlineMS > 0 {
		sub.Deadline = time.UnixMilli(r.DeadlineMS)
	}
	if r.MaxWaitMS > 0 {
		sub.MaxWait = time.Duration(r.MaxWaitMS) * time.Millisecond
	}
	if r.NotBeforeMS > 0 {
		sub.NotBefore = time.UnixMilli(r.NotBeforeMS)
	}
	return b.n.submitDetachable(ctx, sub, progress, r.Detach)
}

func (b backend) BadRequest(err error) bool { return errors.Is(err, ErrBadSubmission) }

func (b backend) Cancel(id string) error { return notFound(b.n.Cancel(id)) }

// notFound marks an unknown or ambiguous job or peer reference as
// api.ErrNotFound (the API answers 404).
func notFound(err error) error {
	if errors.Is(err, ErrUnknownJob) || errors.Is(err, idref.ErrNoMatch) || errors.Is(err, idref.ErrAmbiguous) {
		return fmt.Errorf("%w: %w", api.ErrNotFound, err)
	}
	return err
}

func (b backend) Drain() { b.n.Drain() }

func (b backend) Reputations() ([]api.Reputation, error) { return b.n.Reputations(), nil }

func (b backend) Market(window time.Duration) ([]api.Rate, error) { return b.n.Market(window), nil }

func (b backend) Credits(recent int) (api.Credits, error) { return b.n.Credits(recent), nil }

func (b backend) VerifyLedger() (ledger.Report, error) { return b.n.book.Verify() }

func (b backend) AddGrant(ctx context.Context, g *job.Grant) error { return b.n.AddGrant(ctx, g) }

func (b backend) Events(ctx context.Context, id string, follow bool, each func(job.Event)) error {
	past, ch, stop, err := b.n.Events(id, follow)
	if err != nil {
		return notFound(err)
	}
	defer stop()
	for _, e := range past {
		each(e)
	}
	for ch != nil {
		select {
		case e, ok := <-ch:
			if !ok {
				return nil
			}
			each(e)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (b backend) Providers(ctx context.Context, need job.Need) ([]api.ProviderInfo, error) {
	return b.n.FindProviders(ctx, need), nil
}

func (b backend) Challenge(ctx context.Context, p string) (api.ChallengeResult, error) {
	id, err := b.n.ResolvePeer(ctx, p)
	if err != nil {
		return api.ChallengeResult{}, notFound(err)
	}
	return b.n.Challenge(ctx, id)
}

func (b backend) Jobs() ([]api.JobSummary, error) { return b.n.Jobs(), nil }

func (b backend) GC(dryRun bool) (*api.GCReport, error) {
	rep, err := b.n.GC(dryRun)
	return gcReport(rep), err
}

func (b backend) FetchContent(ctx context.Context, c string) (api.ContentStat, error) {
	st, err := b.n.FetchPublic(ctx, c)
	if err != nil {
		return api.ContentStat{}, err
	}
	return api.ContentStat{CID: c, Files: st.Files, Bytes: st.Bytes, Blocks: len(st.Blocks)}, nil
}

func (b backend) Job(id string) (*api.JobRecord, error) {
	r, err := b.n.Job(id)
	return r, notFound(err)
}
