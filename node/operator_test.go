package node

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/mesh"
	"github.com/libp2p/go-libp2p/core/peer"
)

// A provider limited to one job at a time never runs two, and every job
// completes; a denied client is told why; a drained provider finishes its
// job, takes no new one, and reports drained.
func TestOperatorControls(t *testing.T) {
	t.Parallel()
	small := job.Resources{CPUMillis: 4000, MemoryBytes: 1 << 30}
	client, provs := meshOf(t, "test-operator",
		Config{Region: "eu-west", Rates: job.Rates{CPUHour: job.Nano}, Capacity: small, MaxJobs: 1},
		Config{Region: "us-east", Rates: job.Rates{CPUHour: 2 * job.Nano}, Capacity: small, MaxJobs: 1})

	// Concurrency: 6 jobs from 3 goroutines against 2 providers of 1 slot.
	var peak, now atomic.Int32
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			for _, p := range provs {
				if r := int32(p.provider.Reservations().Running()); r > peak.Load() {
					peak.Store(r)
				}
			}
			time.Sleep(time.Millisecond)
		}
	}()
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 2 {
				sub := guestSpec(t, "sleep", "300ms")
				sub.BidWindow = 2 * time.Second
				var out *job.Outcome
				// Busy providers decline: try again, as a waiting client would,
				// for as long as a slow (instrumented, loaded) machine needs.
				for deadline := time.Now().Add(120 * time.Second); time.Now().Before(deadline); {
					ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
					o, err := client.Submit(ctx, sub, nil)
					cancel()
					if err != nil {
						t.Error(err)
						return
					}
					if out = o; o.State != job.StateUnscheduled {
						break
					}
					time.Sleep(200 * time.Millisecond)
				}
				if out.State != job.StateCompleted {
					t.Errorf("job: %s (%s)", out.State, out.Error)
				}
				now.Add(1)
			}
		}()
	}
	wg.Wait()
	close(stop)
	if peak.Load() > 1 {
		t.Fatalf("a provider ran %d jobs at once, its limit is 1", peak.Load())
	}
	if now.Load() != 6 {
		t.Fatalf("%d of 6 jobs completed", now.Load())
	}

	// Drain provs[0] while it runs a job: the job completes, the provider
	// declines new work, and it reports drained.
	running := make(chan struct{}, 1)
	done := make(chan *job.Outcome, 1)
	go func() {
		sub := guestSpec(t, "sleep", "1s")
		o, _ := client.Submit(context.Background(), sub, func(e job.Event) {
			if e.Kind == job.EventRunning {
				running <- struct{}{}
			}
		})
		done <- o
	}()
	<-running
	if provs[0].Info().Draining {
		t.Fatal("Info says draining before Drain")
	}
	drained := provs[0].Drain()
	if in := provs[0].Info(); !in.Draining || in.Running != 1 {
		t.Fatalf("Info while draining with a job running: draining %v, running %d", in.Draining, in.Running)
	}
	sub := guestSpec(t, "hello")
	sub.BidWindow = 2 * time.Second
	out := submit(t, client, sub, nil)
	if out.Provider == provs[0].ID().String() {
		t.Fatal("a draining provider took a new job")
	}
	if o := <-done; o == nil || o.State != job.StateCompleted {
		t.Fatalf("the job running during the drain: %+v", o)
	}
	select {
	case <-drained:
	case <-time.After(30 * time.Second):
		t.Fatal("the provider did not report drained after its job ended")
	}
}

// A client on a provider's deny list is told so.
func TestDeniedClient(t *testing.T) {
	t.Parallel()
	small := job.Resources{CPUMillis: 2000, MemoryBytes: 1 << 30}
	const network, seed = "test-deny", "test-deny client"
	denied, err := peer.IDFromPrivateKey(mesh.TestKey(seed)) // the client's ID, known before it starts
	if err != nil {
		t.Fatal(err)
	}
	_, provs := meshOf(t, network,
		Config{Region: "eu-west", Rates: job.Rates{CPUHour: job.Nano}, Capacity: small, DenyClients: []string{denied.String()}},
	)
	c, err := New(context.Background(), Config{Mode: ModeClient, Network: network, Ephemeral: true, TestIdentity: seed,
		Bootstrap: []string{provs[0].Mesh().Addrs()[0].String()}, HeartbeatTimeout: testHeartbeatTimeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if c.ID() != denied {
		t.Fatalf("the client is %s, the provider denies %s", c.ID(), denied)
	}
	wctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := c.Mesh().WaitProviders(wctx, 1); err != nil {
		t.Fatal(err)
	}
	out := submit(t, c, helloSpec(t, nil), nil)
	if out.State != job.StateUnscheduled || !strings.Contains(out.Error, "declined: client") {
		t.Fatalf("denied client: state %s, error %q", out.State, out.Error)
	}
}
