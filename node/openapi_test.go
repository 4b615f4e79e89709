package node

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/internal/openapitest"
	"github.com/computemesh/computemesh/job"
)

// A real node's answers on every route, errors among them, match the
// OpenAPI document (no undeclared field, no field of another type), while
// the typed client submits a job, follows its logs and downloads its
// outputs.
func TestAPIMatchesOpenAPI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, provs := meshWithClient(t, "test-openapi", Config{DataDir: dir, API: "127.0.0.1:0"},
		Config{Region: "eu-west", Rates: job.Rates{CPUHour: job.Nano}}, Config{Region: "us-east", Rates: job.Rates{CPUHour: 2 * job.Nano}})
	v := openapitest.New(t)
	c, err := api.Dial(dir, api.WithHTTPClient(v.Client()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	sub := guestSpec(t, "write", "/outputs/out.txt")
	var kinds []job.EventKind
	out, err := c.Submit(ctx, api.SubmitRequest{Spec: *sub.Spec, Module: sub.Module}, func(e job.Event) { kinds = append(kinds, e.Kind) })
	if err != nil || out.State != job.StateCompleted {
		t.Fatalf("submit: %+v, %v", out, err)
	}
	logs := guestSpec(t, "hello")
	detached, err := c.Submit(ctx, api.SubmitRequest{Spec: *logs.Spec, Module: logs.Module, Detach: true}, nil)
	if err != nil || detached.Job == "" {
		t.Fatalf("submit --detach: %+v, %v", detached, err)
	}
	var logged strings.Builder
	if err := c.Logs(ctx, detached.Job, true, &logged); err != nil || !strings.Contains(logged.String(), "hello") {
		t.Fatalf("following the job's logs: %q, %v", logged.String(), err)
	}

	got := filepath.Join(t.TempDir(), "outputs")
	if err := c.Download(ctx, out.Outputs, got); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(got, "out.txt")); err != nil || string(b) != "written by guest" {
		t.Fatalf("downloaded out.txt: %q, %v", b, err)
	}
	if err := c.Download(ctx, out.Outputs, got); err == nil {
		t.Fatal("a download over an existing path went ahead")
	}
	if r, err := c.Open(ctx, out.Outputs, "out.txt"); err != nil {
		t.Fatal(err)
	} else {
		r.Close()
	}

	calls := map[string]func() error{
		"info":       func() error { _, err := c.Info(ctx); return err },
		"jobs":       func() error { _, err := c.Jobs(ctx); return err },
		"job":        func() error { _, err := c.Job(ctx, out.Job); return err },
		"events":     func() error { return c.Events(ctx, out.Job, false, func(job.Event) {}) },
		"market":     func() error { _, err := c.Market(ctx, time.Hour); return err },
		"credits":    func() error { _, err := c.Credits(ctx, 5); return err },
		"reputation": func() error { _, err := c.Reputations(ctx); return err },
		"verify":     func() error { _, err := c.VerifyLedger(ctx); return err },
		"providers":  func() error { _, err := c.Providers(ctx, job.Need{}); return err },
		"challenge":  func() error { _, err := c.Challenge(ctx, provs[0].ID().String()); return err },
		"gc":         func() error { _, err := c.GC(ctx, true); return err },
		"fetch":      func() error { _, err := c.FetchContent(ctx, out.Outputs); return err },
		"openapi":    func() error { _, err := c.OpenAPI(ctx); return err },
		"provider":   func() error { _, err := c.ProviderJobs(ctx); return err },
	}
	for name, call := range calls {
		if err := call(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	var e *api.Error
	if err := c.Cancel(ctx, out.Job); !errors.As(err, &e) || e.Code != api.CodeConflict {
		t.Errorf("cancelling a finished job: %v, want a conflict", err)
	}
	long := guestSpec(t, "sleep", "60s")
	running, err := c.Submit(ctx, api.SubmitRequest{Spec: *long.Spec, Module: long.Module, Detach: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Cancel(ctx, running.Job); err != nil {
		t.Errorf("cancelling a job in flight: %v", err)
	}
	if _, err := c.Job(ctx, "zzzz"); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("an unknown job: %v, want not_found", err)
	}
	if _, err := c.List(ctx, out.Outputs, "no/such/path"); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("a path that names nothing: %v, want not_found", err)
	}
	if _, err := c.Submit(ctx, api.SubmitRequest{Spec: job.Spec{}}, nil); err == nil {
		t.Error("an empty spec was accepted")
	} else if _, bad := api.BadRequest(err); !bad {
		t.Errorf("an empty spec: %v, want bad_request", err)
	}
	seen := v.Seen()
	for _, r := range api.Routes() {
		if r.Path == "/v1/grants" || r.Path == "/v1/drain" || r.Path == "/metrics" || strings.HasPrefix(r.Path, "/v1/dashboard/") {
			continue // a grant needs a faucet, drain stops the provider; metrics and the dashboard have tests of their own
		}
		if seen[r.Method+" "+strings.ReplaceAll(r.Path, "...}", "}")] == 0 {
			t.Errorf("%s %s: no answer validated", r.Method, r.Path)
		}
	}
}

// A provider lists the jobs it runs (GET /v1/provider/jobs): the job
// while it runs, nothing once it has ended.
func TestProviderJobsListsRunning(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	client, _ := meshOf(t, "test-provider-jobs", Config{Region: "eu-west", Rates: job.Rates{CPUHour: job.Nano}, DataDir: dir, API: "127.0.0.1:0"})
	v := openapitest.New(t)
	c, err := api.Dial(dir, api.WithHTTPClient(v.Client()))
	if err != nil {
		t.Fatal(err)
	}
	running := make(chan string, 1)
	done := make(chan *job.Outcome, 1)
	go func() {
		done <- submit(t, client, guestSpec(t, "sleep", "4s"), func(e job.Event) {
			if e.Kind == job.EventRunning {
				running <- e.Job
			}
		})
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var id string
	select {
	case id = <-running:
	case <-ctx.Done():
		t.Fatal("the job never ran")
	}
	pj, err := c.ProviderJobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(pj.Running) != 1 || pj.Running[0].Job != id || pj.Running[0].Resources.CPUMillis == 0 {
		t.Fatalf("while %s runs: %+v", id, pj)
	}
	if out := <-done; out.State != job.StateCompleted {
		t.Fatalf("state %s: %s", out.State, out.Error)
	}
	for {
		pj, err = c.ProviderJobs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(pj.Running) == 0 && len(pj.Queued) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("after the job: %+v", pj)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
