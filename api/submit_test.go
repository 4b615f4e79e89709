package api_test

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/job"
)

// submitBackend answers a submission with three events and an outcome.
type submitBackend struct{ fakeBackend }

func (b *submitBackend) Submit(_ context.Context, _ api.SubmitRequest, progress func(job.Event)) (*job.Outcome, error) {
	for _, k := range []job.EventKind{job.EventRequest, job.EventBid, job.EventWinner} {
		progress(job.Event{Kind: k})
	}
	return &job.Outcome{Job: "j", State: job.StateCompleted}, nil
}

// A submission streams its events to a caller that asks for them, and
// sends the outcome alone to one that does not (progress nil: a batch).
func TestSubmitEventsOnlyWhenAsked(t *testing.T) {
	dir := t.TempDir()
	srv, err := api.Listen("127.0.0.1:0", dir, &submitBackend{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	c, err := api.Dial(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []job.EventKind
	out, err := c.Submit(t.Context(), api.SubmitRequest{}, func(e job.Event) { got = append(got, e.Kind) })
	if err != nil || out.State != job.StateCompleted || len(got) != 3 {
		t.Fatalf("with progress: %v, %v, %d events (want 3)", out, err, len(got))
	}
	if out, err := c.Submit(t.Context(), api.SubmitRequest{}, nil); err != nil || out.State != job.StateCompleted {
		t.Fatalf("without progress: %v, %v", out, err)
	}
	tok, err := os.ReadFile(filepath.Join(dir, api.TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	for query, want := range map[string]int{"": 4, "?events=false": 1} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+srv.Addr()+"/v1/jobs"+query, strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		lines := 0
		for sc := bufio.NewScanner(resp.Body); sc.Scan(); {
			lines++
		}
		resp.Body.Close()
		if lines != want {
			t.Errorf("POST /v1/jobs%s: %d lines, want %d", query, lines, want)
		}
	}
}
