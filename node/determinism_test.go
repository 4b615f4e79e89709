package node

import (
	"bytes"
	"testing"

	"github.com/computemesh/computemesh/job"
)

// Two runs of a deterministic job give the same output (so replicas can be
// compared); without the flag the guest sees real randomness.
func TestDeterministicJobsRepeat(t *testing.T) {
	t.Parallel()
	client, _ := testMesh(t, []provSpec{{"eu-west", "0.5"}, {"us-east", "0.9"}})
	run := func(deterministic bool) []byte {
		sub := guestSpec(t, "rand")
		sub.Spec.Deterministic = deterministic
		out := submit(t, client, sub, nil)
		if out.State != job.StateCompleted || len(out.Stdout) == 0 {
			t.Fatalf("rand: state %s, stdout %q (%s)", out.State, out.Stdout, out.Error)
		}
		return out.Stdout
	}
	if a, b := run(true), run(true); !bytes.Equal(a, b) {
		t.Fatalf("two deterministic runs differ: %q and %q", a, b)
	}
	if a, b := run(false), run(false); bytes.Equal(a, b) {
		t.Fatalf("two runs with real randomness printed the same %q", a)
	}
}
