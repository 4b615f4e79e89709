package node

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
)

// busyMesh is a mesh of one provider that runs one job at once and queues
// none (a second job finds it busy), and a client configured by clientCfg.
func busyMesh(t *testing.T, network string, clientCfg Config) (client, prov *Node) {
	t.Helper()
	small := job.Resources{CPUMillis: 2000, MemoryBytes: 1 << 30}
	client, provs := meshWithClient(t, network, clientCfg,
		Config{Region: "eu-west", Rates: job.Rates{CPUHour: job.Nano}, Capacity: small, MaxJobs: 1})
	return client, provs[0]
}

// startBusy submits a job that keeps the provider busy for d and returns
// once it runs: its ID, and a channel that gets its outcome.
func startBusy(t *testing.T, client *Node, d string) (string, <-chan *job.Outcome) {
	t.Helper()
	var id atomic.Value
	running := make(chan struct{})
	done := make(chan *job.Outcome, 1)
	var once sync.Once
	go func() {
		sub := guestSpec(t, "sleep", d)
		sub.Spec.TimeoutMS = 120_000
		out, err := client.Submit(context.Background(), sub, func(e job.Event) {
			if e.Kind == job.EventRunning {
				id.Store(e.Job)
				once.Do(func() { close(running) })
			}
		})
		if err != nil {
			t.Error(err)
		}
		done <- out
	}()
	select {
	case <-running:
	case out := <-done:
		t.Fatalf("the first job ended before it ran: %+v", out)
	case <-time.After(90 * time.Second):
		t.Fatal("the first job did not start within 90 s")
	}
	return id.Load().(string), done
}

// A job submitted without a deadline to a mesh whose providers are all
// busy is not dropped: the client waits and auctions again until one has
// room (before, it ended unscheduled at once: "1 declined: busy").
func TestBusyMeshWaitsInsteadOfDropping(t *testing.T) {
	t.Parallel()
	client, _ := busyMesh(t, "test-pushback-wait", Config{})
	_, first := startBusy(t, client, "2s")
	var busyWaits atomic.Int64
	out, err := client.Submit(context.Background(), helloSpec(t, nil), func(e job.Event) {
		if e.Kind == job.EventWaiting && strings.Contains(e.Message, "the mesh is busy") {
			busyWaits.Add(1)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if out.State != job.StateCompleted {
		t.Fatalf("second job: %s (%s); want completed once the provider had room", out.State, out.Error)
	}
	if busyWaits.Load() == 0 {
		t.Error("the second job never waited for the busy provider: the test did not test the wait")
	}
	if o := <-first; o.State != job.StateCompleted {
		t.Errorf("first job: %s (%s)", o.State, o.Error)
	}
}

// A busy mesh is waited out for BusyWait, no longer: then the job ends
// unscheduled and says how long it waited.
func TestBusyMeshWaitEnds(t *testing.T) {
	t.Parallel()
	client, _ := busyMesh(t, "test-pushback-ends", Config{BusyWait: 2 * time.Second})
	firstID, first := startBusy(t, client, "60s")
	out, err := client.Submit(context.Background(), helloSpec(t, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if out.State != job.StateUnscheduled || !strings.Contains(out.Error, "declined: busy") || !strings.Contains(out.Error, "the mesh stayed busy for 2s") {
		t.Fatalf("second job: %s (%s); want unscheduled after waiting out the busy mesh for 2s", out.State, out.Error)
	}
	if err := client.Cancel(firstID); err != nil {
		t.Logf("cancelling the first job: %v", err)
	}
	<-first
}

// A client holds back the jobs past its MaxAuctions: never more auctions
// at once, every job placed.
func TestClientHoldsBackPastMaxAuctions(t *testing.T) {
	t.Parallel()
	client, _ := meshWithClient(t, "test-pushback-slots", Config{MaxAuctions: 1},
		Config{Region: "eu-west", Rates: job.Rates{CPUHour: job.Nano}, Capacity: job.Resources{CPUMillis: 8000, MemoryBytes: 4 << 30}})
	var inAuction, most, held atomic.Int64
	var wg sync.WaitGroup
	outs := make([]*job.Outcome, 6)
	for i := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := client.Submit(context.Background(), helloSpec(t, nil), func(e job.Event) {
				switch e.Kind {
				case job.EventCandidates:
					n := inAuction.Add(1)
					for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
					}
				case job.EventClosed:
					inAuction.Add(-1)
				case job.EventHeld:
					held.Add(1)
				}
			})
			if err != nil {
				t.Error(err)
				return
			}
			outs[i] = out
		}()
	}
	wg.Wait()
	for i, out := range outs {
		if out == nil || out.State != job.StateCompleted {
			t.Fatalf("job %d: %+v", i, out)
		}
	}
	if most.Load() > 1 {
		t.Errorf("%d auctions at once, MaxAuctions is 1", most.Load())
	}
	if held.Load() == 0 {
		t.Error("no job was held back: six jobs at once with one auction slot")
	}
}
