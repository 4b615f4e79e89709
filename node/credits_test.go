package node

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
)

// Every run is settled by a receipt signed by both sides and gossiped: once
// gossip settles, every node's view of every balance agrees and equals the
// metered charges; a provider restarted on its data dir has kept its
// receipts.
func TestReceiptsSettleEveryBalance(t *testing.T) {
	t.Parallel()
	small := job.Resources{CPUMillis: 4000, MemoryBytes: 2 << 30}
	dirs := []string{filepath.Join(t.TempDir(), "p0"), filepath.Join(t.TempDir(), "p1"), filepath.Join(t.TempDir(), "p2")}
	client, provs := meshOf(t, "test-credits",
		Config{Region: "eu-west", Rates: job.Rates{CPUHour: job.Nano}, Capacity: small, DataDir: dirs[0]},
		Config{Region: "us-east", Rates: job.Rates{CPUHour: 2 * job.Nano}, Capacity: small, DataDir: dirs[1]},
		Config{Region: "ap-south", Rates: job.Rates{CPUHour: 3 * job.Nano}, Capacity: small, DataDir: dirs[2]})
	if err := client.mesh.OnLedger(client.credits.OnLedger); err != nil {
		t.Fatal(err)
	}

	earned := map[string]job.Credits{}
	var spent job.Credits
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sub := helloSpec(t, nil)
			sub.Spec.Region = []string{"eu-west", "us-east", "ap-south"}[i%3] // spread the jobs
			sub.Deadline = time.Now().Add(2 * time.Minute)                    // a busy provider: wait
			out := submit(t, client, sub, nil)
			if out.State != job.StateCompleted {
				t.Errorf("job %d: %s: %s", i, out.State, out.Error)
				return
			}
			mu.Lock()
			earned[out.Provider] += out.Charge
			spent += out.Charge
			mu.Unlock()
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	self := client.ID().String()
	nodes := append([]*Node{client}, provs...)
	agree := func() string {
		for _, v := range nodes {
			if b := v.book.Balance(self); b.Spent != spent || b.Balance != -spent || b.Receipts != 30 {
				return v.ID().String() + " sees the client " + b.Spent.String() + " spent in " + itoa(b.Receipts) + " receipts"
			}
			for _, p := range provs {
				if b := v.book.Balance(p.ID().String()); b.Earned != earned[p.ID().String()] || b.Balance != b.Earned {
					return v.ID().String() + " sees provider " + p.ID().String() + " earn " + b.Earned.String()
				}
			}
		}
		return ""
	}
	deadline := time.Now().Add(60 * time.Second)
	for why := agree(); why != ""; why = agree() {
		if time.Now().After(deadline) {
			t.Fatalf("after 60 s of gossip the views still differ: %s", why)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if c := client.Credits(5); c.Balance.Spent != spent || len(c.Receipts) != 5 {
		t.Fatalf("client credits %+v", c)
	}

	// The provider restarts on its data dir: its receipts are all there.
	want := provs[1].book.Balance(provs[1].ID().String())
	provs[1].Close()
	again, err := New(context.Background(), Config{
		Mode: ModeProvider, Network: "test-credits", Region: "us-east", Rates: job.Rates{CPUHour: 2 * job.Nano},
		Capacity: small, DataDir: dirs[1], Hardware: testHardware(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { again.Close() })
	if got := again.book.Balance(again.ID().String()); got.Earned != want.Earned || got.Receipts != want.Receipts {
		t.Fatalf("after a restart the provider has %+v, before %+v", got, want)
	}
}

func itoa(n int) string { return job.Credits(n).String() }
