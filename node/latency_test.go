package node

import (
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
)

// With delays injected at the connection level, the latency policy picks
// the nearest provider even when it is not the cheapest, and the cost
// policy the cheapest even when it is far.
func TestLatencyPolicyPicksTheNearest(t *testing.T) {
	small := job.Resources{CPUMillis: 2000, MemoryBytes: 1 << 30}
	client, provs := meshOf(t, "test-latency",
		Config{Region: "ap-south", Rates: job.Rates{CPUHour: job.Nano / 2}, Capacity: small, Delay: 60 * time.Millisecond},
		Config{Region: "eu-west", Rates: job.Rates{CPUHour: job.Nano}, Capacity: small, Delay: 2 * time.Millisecond},
		Config{Region: "us-east", Rates: job.Rates{CPUHour: 2 * job.Nano}, Capacity: small, Delay: 25 * time.Millisecond})
	out := submit(t, client, helloSpec(t, func(s *job.Spec) { s.Policy = job.PolicyLatency }), nil)
	if out.State != job.StateCompleted || out.Provider != provs[1].ID().String() {
		t.Fatalf("latency policy: %s on %s (%s), want the 2 ms provider %s", out.State, out.Provider, out.Reason, provs[1].ID())
	}
	out = submit(t, client, helloSpec(t, nil), nil)
	if out.State != job.StateCompleted || out.Provider != provs[0].ID().String() {
		t.Fatalf("cost policy: %s on %s (%s), want the cheapest %s", out.State, out.Provider, out.Reason, provs[0].ID())
	}
}
