package node

import (
	"strings"
	"sync"
	"testing"

	"github.com/computemesh/computemesh/internal/testfaucet"
	"github.com/computemesh/computemesh/job"
)

// A provider counts the runs it accepted and has not been paid for against
// the client's balance: while one job of the client runs here, a second
// that the balance cannot cover beside it is declined (funds), though no
// bid of the client stands; once the first is paid, the credits are free.
func TestUnpaidRunsCommitTheBalance(t *testing.T) {
	t.Parallel()
	const network = "test-owed"
	_, provs := meshOf(t, network, Config{Region: "eu-west", Rates: job.Rates{CPUHour: job.Nano}, Faucet: testfaucet.ID,
		Capacity: job.Resources{CPUMillis: 8000, MemoryBytes: 4 << 30}})
	client := fundedClient(t, network, provs, Config{Ephemeral: true}, 6*job.Nano)
	// 4 cores for an hour at 1 credit per core-hour: 4 credits a bid.
	big := func(sub Submission) Submission {
		sub.Spec.Resources.CPUMillis, sub.Spec.TimeoutMS = 4000, 3_600_000
		return sub
	}
	running := make(chan struct{})
	var once sync.Once
	var first *job.Outcome
	var wg sync.WaitGroup
	wg.Go(func() {
		first = submit(t, client, big(guestSpec(t, "sleep", "3s")), func(e job.Event) {
			if e.Kind == job.EventRunning {
				once.Do(func() { close(running) })
			}
		})
	})
	<-running
	if n, _ := provs[0].StandingBids(); n != 0 {
		t.Fatalf("%d bids stand while the first job runs: the test needs none", n)
	}
	second := submit(t, client, big(helloSpec(t, nil)), nil)
	if second.State != job.StateUnscheduled || !strings.Contains(second.Error, "declined: funds") {
		t.Fatalf("a second job beside an unpaid run of 4 on a balance of 6: state %s (%s); want declined: funds", second.State, second.Error)
	}
	wg.Wait()
	if first.State != job.StateCompleted {
		t.Fatalf("first job: %s (%s)", first.State, first.Error)
	}
	waitFor(t, "the first run to be paid", func() bool { return provs[0].credits.Owes(client.ID().String()) == 0 })
	if third := submit(t, client, big(helloSpec(t, nil)), nil); third.State != job.StateCompleted {
		t.Fatalf("after the first run was paid: state %s (%s); want completed", third.State, third.Error)
	}
}
