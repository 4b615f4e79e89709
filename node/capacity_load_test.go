package node

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/computemesh/computemesh/examples/sleeper"
	"github.com/computemesh/computemesh/job"
)

// TestCapacityUnderLoad: 4 clients submit 50 jobs each, several at once,
// to 3 providers that each run at most 2 jobs at once — two by their
// capacity (2 cores, jobs of 1 core), one by its job cap (4 cores,
// max-jobs 2). Every job sleeps 300 ms (sleeper.Module) so that jobs overlap,
// and the cheapest provider is everyone's first choice, so providers are
// asked for more than they can run: they decline (busy) when bidding or at
// award time, and the clients fail over, or wait and auction again until
// their deadline. Whatever the
// interleaving, no provider ever holds more than 2 reservations at once
// (its reservation book's high-water mark, taken under its lock at every
// Reserve), every job completes, and every reservation is released.
func TestCapacityUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("200 jobs on a 7-node mesh")
	}
	const (
		clients       = 4
		jobsPerClient = 50
		inFlight      = 3 // submitters per client
		slots         = 2 // jobs a provider runs at once
	)
	twoCores := job.Resources{CPUMillis: 2000, MemoryBytes: 1 << 30}
	client0, provs := meshOf(t, "test-capacity",
		Config{Region: "eu-west", Rates: job.Rates{CPUHour: job.Nano / 2}, Capacity: twoCores},
		Config{Region: "eu-central", Rates: job.Rates{CPUHour: job.Nano * 7 / 10}, Capacity: twoCores},
		Config{Region: "us-east", Rates: job.Rates{CPUHour: job.Nano * 9 / 10},
			Capacity: job.Resources{CPUMillis: 4000, MemoryBytes: 2 << 30}, MaxJobs: slots},
	)
	cs := []*Node{client0}
	boot := []string{provs[0].Mesh().Addrs()[0].String()}
	for i := 1; i < clients; i++ {
		c, err := New(context.Background(), Config{Mode: ModeClient, Bootstrap: boot, Network: "test-capacity", Ephemeral: true})
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		t.Cleanup(func() { c.Close() })
		// As meshWithClient's: generous, the race detector on 2 busy cores
		// (a client saw 1 of 3 providers on the jobs topic after 30 s once).
		wctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		err = c.Mesh().WaitProviders(wctx, len(provs))
		cancel()
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		cs = append(cs, c)
	}
	byID := map[string]int{}
	for i, p := range provs {
		byID[p.ID().String()] = i
	}

	sub := sleeperSpec(t, 300*time.Millisecond) // 1 core, 64 MiB
	sub.BidWindow = 5 * time.Second             // closes early: every provider answers
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	var (
		waits, failovers atomic.Int64
		mu               sync.Mutex
		ranOn            = make([]int, len(provs))
		completed        int
		wg               sync.WaitGroup
	)
	for c := range cs {
		jobs := make(chan int, jobsPerClient)
		for j := range jobsPerClient {
			jobs <- j
		}
		close(jobs)
		for range inFlight {
			wg.Go(func() {
				for j := range jobs {
					out, err := submitWaiting(ctx, cs[c], sub, fmt.Sprintf("client %d job %d", c, j), &waits, &failovers)
					if err != nil {
						t.Error(err)
						return
					}
					if out.State != job.StateCompleted || out.ExitCode != 0 {
						t.Errorf("client %d job %d: state %s exit %d: %s", c, j, out.State, out.ExitCode, out.Error)
						return
					}
					mu.Lock()
					completed++
					ranOn[byID[out.Provider]]++
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	if completed != clients*jobsPerClient {
		t.Fatalf("%d of %d jobs completed", completed, clients*jobsPerClient)
	}

	// The invariant: at no moment did a provider hold more than 2
	// reservations. Their peaks also show that jobs did overlap (else the
	// test would prove nothing).
	overlapped := false
	for i, p := range provs {
		peak := p.provider.Reservations().Peak()
		t.Logf("provider %d (%s): ran %d jobs, peak %d at once", i, p.cfg.Region, ranOn[i], peak)
		if peak > slots {
			t.Errorf("provider %d held %d reservations at once; it runs at most %d", i, peak, slots)
		}
		if peak == slots {
			overlapped = true
		}
	}
	if !overlapped {
		t.Errorf("no provider ever ran %d jobs at once: the jobs did not overlap, nothing was tested", slots)
	}
	t.Logf("%d jobs completed; %d waits for a provider (re-auctions); %d awards declined or failed over",
		completed, waits.Load(), failovers.Load())

	// Every reservation is released (the provider releases after writing
	// the result, so allow it a moment).
	for i, p := range provs {
		deadline := time.Now().Add(30 * time.Second)
		for p.provider.Reservations().Running() != 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := p.provider.Reservations().Running(); n != 0 {
			t.Errorf("provider %d still holds %d reservations after every job ended", i, n)
		}
		if free, total := p.provider.Reservations().Free(), p.Capacity().Total; free != total {
			t.Errorf("provider %d: free %s after every job ended, capacity %s", i, free, total)
		}
	}
}

// submitWaiting submits sub with a deadline: when every provider is busy,
// the client itself waits and auctions again until then.
func submitWaiting(ctx context.Context, client *Node, sub Submission, name string, waits, failovers *atomic.Int64) (*job.Outcome, error) {
	sub.Deadline = time.Now().Add(5 * time.Minute)
	out, err := client.Submit(ctx, sub, func(e job.Event) {
		switch e.Kind {
		case job.EventFailover:
			failovers.Add(1)
		case job.EventWaiting:
			waits.Add(1)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	return out, nil
}

// sleeperSpec is a submission of sleeper.Module(d), as helloSpec's: 1 core,
// 64 MiB, a 20 s timeout.
func sleeperSpec(t *testing.T, d time.Duration) Submission {
	return moduleSpec(t, sleeper.Module(d), "sleep.wasm")
}
