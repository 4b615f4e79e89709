package node

import (
	"context"
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
)

// A provider that leaves stops costing the client's auctions: the jobs
// after it left complete elsewhere, and once its dial has failed the client
// leaves it out of its candidates, although the DHT still lists it. The
// time each job took is logged (docs/BENCHMARKS.md "Churn"): a test never
// asserts it.
func TestDepartedProviderLeftOut(t *testing.T) {
	t.Parallel()
	client, provs := testMesh(t, []provSpec{{"us-east", "2.0"}, {"eu-west", "0.5"}, {"eu-central", "0.9"}})
	gone := provs[1] // the cheapest: every auction would pick it
	submit := func(what string) (candidates int, out *job.Outcome) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		start := time.Now()
		out, err := client.Submit(ctx, helloSpec(t, nil), func(e job.Event) {
			if e.Kind == job.EventCandidates {
				candidates = e.Count
			}
		})
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if out.State != job.StateCompleted {
			t.Fatalf("%s: %s (%s)", what, out.State, out.Error)
		}
		t.Logf("%s: %d candidates, ran on %s, %v", what, candidates, short(out.Provider), time.Since(start).Round(time.Millisecond))
		return candidates, out
	}
	if n, out := submit("before"); n != 3 || out.Provider != gone.ID().String() {
		t.Fatalf("before: %d candidates, won by %s; want 3, won by the cheapest", n, short(out.Provider))
	}
	if err := gone.Close(); err != nil {
		t.Fatal(err)
	}
	left := false
	for i := 0; !left; i++ {
		if i == 30 {
			t.Fatal("30 jobs after the cheapest provider left, the client still counts it among its candidates")
		}
		n, out := submit("after")
		if out.Provider == gone.ID().String() {
			t.Fatal("a job ran on the provider that left")
		}
		left = n == 2
	}
	// The DHT still lists it (and its record until it expires): the
	// providers listing says it does not answer, and does not count it.
	for _, pi := range client.FindProviders(context.Background(), job.Need{}) {
		if pi.Peer == gone.ID().String() && pi.Record != nil && pi.Unreachable == "" {
			t.Errorf("the departed provider is listed as reachable: %+v", pi)
		}
	}
}
