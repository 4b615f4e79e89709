package node

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
)

// Output streams to the client while the job runs; secrets reach the job
// and nothing else; a cancelled job stops on the provider.
func TestLiveLogsSecretsAndCancel(t *testing.T) {
	t.Parallel()
	client, provs := testMesh(t, []provSpec{{"eu-west", "0.5"}, {"us-east", "0.9"}})

	// A secret is in the job's environment.
	sub := guestSpec(t, "env")
	sub.Secrets = map[string]string{"X": "s3cret"}
	out := submit(t, client, sub, nil)
	if out.State != job.StateCompleted || string(out.Stdout) != "s3cret" {
		t.Fatalf("secret env: state %s, stdout %q (%s)", out.State, out.Stdout, out.Error)
	}

	// Logs arrive before the job ends: the guest prints, then sleeps.
	sub = guestSpec(t, "spam", "5000")
	var mu sync.Mutex
	var logged strings.Builder
	var logsBeforeDone bool
	out = submit(t, client, sub, func(e job.Event) {
		mu.Lock()
		defer mu.Unlock()
		switch e.Kind {
		case job.EventLog:
			logged.WriteString(e.Message)
		case job.EventDone:
			logsBeforeDone = logged.Len() > 0
		}
	})
	if out.State != job.StateCompleted || !logsBeforeDone || logged.Len() != 5000 {
		t.Fatalf("live logs: state %s, %d bytes logged before done=%v; want 5000", out.State, logged.Len(), logsBeforeDone)
	}

	// Cancel a long job once it runs: the outcome says cancelled, and the
	// provider frees what it reserved well before the job's timeout.
	sub = guestSpec(t, "sleep", "60s")
	sub.Spec.TimeoutMS = 120_000
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	done := make(chan *job.Outcome, 1)
	running := make(chan string, 1)
	go func() {
		o, err := client.Submit(ctx, sub, func(e job.Event) {
			if e.Kind == job.EventRunning {
				running <- e.Job
			}
		})
		if err != nil {
			t.Error(err)
		}
		done <- o
	}()
	var id string
	select {
	case id = <-running:
	case <-ctx.Done():
		t.Fatal("the long job never started")
	}
	past, _, stop, err := client.Events(id, false)
	stop()
	if err != nil || len(past) == 0 {
		t.Fatalf("Events of a running job: %d, %v", len(past), err)
	}
	start := time.Now()
	if err := client.Cancel(id); err != nil {
		t.Fatal(err)
	}
	o := <-done
	if o == nil || o.State != job.StateCancelled {
		t.Fatalf("cancelled job: %+v", o)
	}
	for free := provs[0].provider.Reservations().Free; free() != provs[0].Capacity().Total; {
		if time.Since(start) > 30*time.Second {
			t.Fatalf("the provider still holds %v after the cancel", free())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := client.Cancel(id); err == nil {
		t.Fatal("cancelling an ended job succeeded")
	}
}
