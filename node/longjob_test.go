package node

import (
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
)

// TestLongJobOutlivesAwardReadDeadline: a job that runs longer than the
// 30 s the provider allows for reading the award completes: the deadline is
// cleared once the award is read, so the goroutine that watches the stream
// for the client going away does not take the deadline for a departure.
// (Found by TestCapacityUnderLoad under the race detector, where compiling
// the Go guest took over 30 s.)
func TestLongJobOutlivesAwardReadDeadline(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("a 35 s job")
	}
	client, _ := testMesh(t, []provSpec{{"us-east", "0.5"}})
	sub := sleeperSpec(t, 35*time.Second)
	sub.Spec.TimeoutMS = 120_000
	out := submit(t, client, sub, nil)
	if out.State != job.StateCompleted {
		t.Fatalf("a 35 s job: state %s: %s", out.State, out.Error)
	}
}
