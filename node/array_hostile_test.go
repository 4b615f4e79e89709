package node

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/computemesh/computemesh/award"
	"github.com/computemesh/computemesh/job"
	"github.com/libp2p/go-libp2p/core/network"
)

// hostileSlice is a provider's award handler that answers a job array's
// slice honestly for its first task, then breaks the protocol with
// second, and waits for the client to go away.
func hostileSlice(second func(a *job.Award) *job.Result) network.StreamHandler {
	return func(s network.Stream) {
		ss, err := award.Serve(s)
		if err != nil {
			s.Close()
			return
		}
		defer ss.Close()
		ctx, cancel := ss.Begin(context.Background())
		defer cancel()
		if ss.Accept() != nil {
			return
		}
		a := ss.Award()
		first := &job.Result{Job: a.Job, Provider: a.Bid.Provider, Task: a.Tasks[0], Charge: 1,
			Stdout: fmt.Appendf(nil, "task %d of %d\n", a.Tasks[0], a.Spec.Count)}
		if ss.TaskResult(first) != nil || ss.TaskResult(second(a)) != nil {
			return
		}
		select {
		case <-ctx.Done(): // the client went away
		case <-time.After(2 * time.Minute):
		}
	}
}

// A provider that answers for a task outside its slice, twice for one
// task, or charges more than a task of its slice is authorised is refused
// and named: its slice ends, its other tasks run elsewhere, it is paid
// nothing (no receipt), and every task still completes once.
func TestJobArrayHostileProvider(t *testing.T) {
	t.Parallel()
	client, provs := arrayMesh(t, "test-array-hostile")
	hostile := provs[0].ID().String() // the cheapest: it gets a slice
	tests := []struct {
		name   string
		second func(a *job.Award) *job.Result
		named  string
	}{
		{name: "a task outside its slice", named: "outside its slice", second: func(a *job.Award) *job.Result {
			outside := 0
			for slices.Contains(a.Tasks, outside) {
				outside++
			}
			return &job.Result{Job: a.Job, Provider: a.Bid.Provider, Task: outside}
		}},
		{name: "a task twice", named: "a second result for task", second: func(a *job.Award) *job.Result {
			return &job.Result{Job: a.Job, Provider: a.Bid.Provider, Task: a.Tasks[0]}
		}},
		{name: "a charge over its authorisation", named: "over the", second: func(a *job.Award) *job.Result {
			return &job.Result{Job: a.Job, Provider: a.Bid.Provider, Task: a.Tasks[1], Charge: a.Bid.Price + 1}
		}},
	}
	m := provs[0].Mesh()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m.Host().SetStreamHandler(m.Protocol(award.Protocol), hostileSlice(tt.second))
			const count = 12
			refused := ""
			out := submit(t, client, arraySpec(count, "0"), func(e job.Event) {
				if e.Kind == job.EventFailover && e.Provider == hostile {
					refused = e.Message
				}
			})
			ran := checkEveryTaskOnce(t, out, count)
			if !strings.Contains(refused, "breach of the award protocol: provider "+hostile) || !strings.Contains(refused, tt.named) {
				t.Fatalf("the hostile provider's failover: %q, want it refused, named, for %q", refused, tt.named)
			}
			if ran[hostile] != 1 {
				t.Fatalf("the hostile provider has %d tasks in the outcome, want only its first honest one", ran[hostile])
			}
			if rcs := receiptsOf(client, out.Job)[hostile]; len(rcs) != 0 {
				t.Fatalf("the hostile provider was paid %d receipts", len(rcs))
			}
		})
	}
}
