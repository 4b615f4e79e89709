package node

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/computemesh/computemesh/internal/testfaucet"
	"github.com/computemesh/computemesh/job"
)

// arrayMesh is a funded client and three exec providers on a network with
// a faucet, the first the cheapest; each runs two 1-core tasks at once.
func arrayMesh(t *testing.T, network string) (client *Node, provs []*Node) {
	t.Helper()
	client, provs = meshWithClient(t, network, Config{Faucet: testfaucet.ID}, arrayProviders()...)
	fund(t, network, client, provs)
	return client, provs
}

// arrayProviders are the configurations of arrayMesh's providers.
func arrayProviders() []Config {
	two := job.Resources{CPUMillis: 2000, MemoryBytes: 2 << 30}
	var cfgs []Config
	for i, rate := range []job.Credits{job.Nano, 2 * job.Nano, 3 * job.Nano} {
		cfgs = append(cfgs, Config{Region: fmt.Sprintf("eu-%d", i), Rates: job.Rates{CPUHour: rate * 3600}, Capacity: two, Faucet: testfaucet.ID,
			Executors: []string{job.ExecutorWASM, job.ExecutorExec}, ExecAllow: []string{"/bin/sh"}})
	}
	return cfgs
}

// fund grants client a million credits from the test faucet and waits
// until every provider has heard of it.
func fund(t *testing.T, network string, client *Node, provs []*Node) {
	t.Helper()
	self := client.ID().String()
	g, err := SignGrant(testfaucet.Key(), network, self, 1_000_000*job.Nano)
	if err != nil {
		t.Fatal(err)
	}
	if err := client.AddGrant(context.Background(), g); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every provider to hear of the grant", func() bool {
		for _, p := range provs {
			if p.book.Balance(self).Granted != 1_000_000*job.Nano {
				return false
			}
		}
		return true
	})
}

// arraySpec is an array of count exec tasks that each print their index
// and count, after sleeping for sleep.
func arraySpec(count int, sleep string) Submission {
	s := &job.Spec{
		Executor: job.ExecutorExec, Command: "/bin/sh", Name: "sh",
		Args:      []string{"-c", `sleep ` + sleep + `; echo "task $COMPUTEMESH_TASK_INDEX of $COMPUTEMESH_TASK_COUNT"`},
		Resources: job.Resources{CPUMillis: 1000, MemoryBytes: 128 << 20}, TimeoutMS: 60_000, Policy: job.PolicyCost,
		Count: count,
	}
	return Submission{Spec: s, BidWindow: 5 * time.Second}
}

// checkEveryTaskOnce checks that every task of out completed once, with
// its own index and the count in its environment, and returns how many
// tasks each provider ran.
func checkEveryTaskOnce(t *testing.T, out *job.Outcome, count int) map[string]int {
	t.Helper()
	if out.State != job.StateCompleted || len(out.Tasks) != count {
		t.Fatalf("state %s, %d tasks: %s", out.State, len(out.Tasks), out.Error)
	}
	ran := map[string]int{}
	var sum job.Credits
	for i, tr := range out.Tasks {
		want := fmt.Sprintf("task %d of %d", i, count)
		if tr.Index != i || tr.State != job.StateCompleted || strings.TrimSpace(string(tr.Stdout)) != want {
			t.Fatalf("task %d: index %d, state %s, stdout %q (%s); want %q", i, tr.Index, tr.State, tr.Stdout, tr.Error, want)
		}
		ran[tr.Provider]++
		sum += tr.Charge
	}
	if sum != out.Charge {
		t.Fatalf("the outcome charges %s, its tasks %s", out.Charge, sum)
	}
	return ran
}

// receiptsOf returns the client's receipts for job id, by payee.
func receiptsOf(client *Node, id string) map[string][]job.Receipt {
	by := map[string][]job.Receipt{}
	for _, rc := range receiptsIn(client, client.ID().String(), 1000) {
		if rc.Job == id && rc.Amount > 0 {
			by[rc.Payee] = append(by[rc.Payee], rc)
		}
	}
	return by
}

// A job array spreads over the providers, runs every index exactly once
// with its index in its environment, and pays one receipt per provider's
// slice: the sum of its tasks' charges.
func TestJobArraySpreadsOneReceiptPerProvider(t *testing.T) {
	t.Parallel()
	client, provs := arrayMesh(t, "test-array")
	const count = 24
	var mu sync.Mutex
	slices := map[string]int{}
	out := submit(t, client, arraySpec(count, "0.05"), func(e job.Event) {
		if e.Kind == job.EventWinner {
			mu.Lock()
			slices[e.Provider]++
			mu.Unlock()
		}
	})
	ran := checkEveryTaskOnce(t, out, count)
	if len(ran) != len(provs) {
		t.Fatalf("tasks ran on %d providers (%v), want all %d", len(ran), ran, len(provs))
	}
	var charges = map[string]job.Credits{}
	for _, tr := range out.Tasks {
		charges[tr.Provider] += tr.Charge
	}
	waitFor(t, "the receipts in the client's ledger", func() bool { return len(receiptsOf(client, out.Job)) == len(ran) })
	for p, rcs := range receiptsOf(client, out.Job) {
		if len(rcs) != 1 || slices[p] != 1 {
			t.Fatalf("provider %s: %d receipts for %d slices, want one each", short(p), len(rcs), slices[p])
		}
		if rcs[0].Amount != charges[p] {
			t.Fatalf("provider %s: a receipt of %s, its tasks charged %s", short(p), rcs[0].Amount, charges[p])
		}
	}
}

// A provider killed in the middle of its slice: the tasks it had not
// returned run elsewhere, every index still exactly once in the outcome.
func TestJobArrayFailoverPerTask(t *testing.T) {
	t.Parallel()
	client, provs := arrayMesh(t, "test-array-kill")
	const count = 30
	cheapest := provs[0].ID().String()
	var once sync.Once
	failover, slice := 0, 0
	out := submit(t, client, arraySpec(count, "0.5"), func(e job.Event) {
		switch {
		case e.Kind == job.EventWinner && e.Provider == cheapest && slice == 0:
			slice = e.Count
		case e.Kind == job.EventRunning && e.Provider == cheapest:
			once.Do(func() {
				go func() {
					time.Sleep(time.Second) // some tasks in: killed mid-slice
					provs[0].Close()
				}()
			})
		case e.Kind == job.EventFailover:
			if e.Provider != cheapest {
				t.Errorf("failover from %s, only %s was killed", short(e.Provider), short(cheapest))
			}
			failover++
		}
	})
	ran := checkEveryTaskOnce(t, out, count)
	if failover == 0 {
		t.Fatalf("no failover: the killed provider's slice ended first (ran %v)", ran)
	}
	moved := 0
	for _, tr := range out.Tasks {
		if tr.Attempts > 1 {
			moved++
			if tr.Provider == cheapest {
				t.Fatalf("task %d, carried by %d awards, ran on the killed provider", tr.Index, tr.Attempts)
			}
		}
	}
	if moved == 0 || moved+ran[cheapest] != slice {
		t.Fatalf("%d tasks moved to other providers, %d returned by the killed one, whose slice had %d", moved, ran[cheapest], slice)
	}
	t.Logf("the killed provider returned %d tasks; the others %d and %d", ran[cheapest], ran[provs[1].ID().String()], ran[provs[2].ID().String()])
}
