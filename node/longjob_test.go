package node

import (
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
)

// TestLongJobOutlivesAwardReadDeadline: a job that runs longer than 30 s
// must complete. Today it does not: handleAward sets a 30 s read deadline
// on the award stream to read the award and never clears it, so the
// goroutine that watches the stream for the client going away gets a
// deadline error 30 s after the award and cancels the run ("provider error:
// cancelled: the client went away"). Found by TestCapacityUnderLoad under
// the race detector, where compiling the Go guest took over 30 s.
func TestLongJobOutlivesAwardReadDeadline(t *testing.T) {
	t.Skip("known bug in node/provider.go (handleAward never clears the award stream's 30 s read deadline); " +
		"lead: add `_ = s.SetReadDeadline(time.Time{})` after reading the award, then remove this skip")
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
