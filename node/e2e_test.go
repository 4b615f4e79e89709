package node

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/computemesh/computemesh/examples/hello"
	"github.com/computemesh/computemesh/job"
)

type provSpec struct {
	region string
	rate   string // credits per core-hour
}

// testMesh starts providers (the first is the bootstrap node) and a
// long-lived client on 127.0.0.1, all real libp2p hosts.
func testMesh(t *testing.T, provs []provSpec) (client *Node, providers []*Node) {
	t.Helper()
	ctx := context.Background()
	var boot []string
	for i, p := range provs {
		rate, err := job.ParseCredits(p.rate)
		if err != nil {
			t.Fatal(err)
		}
		n, err := New(ctx, Config{
			Mode: ModeProvider, Region: p.region, Rates: job.Rates{CPUHour: rate},
			Bootstrap: boot, Network: "test", Capacity: job.Resources{CPUMillis: 4000, MemoryBytes: 4 << 30},
		})
		if err != nil {
			t.Fatalf("provider %d: %v", i, err)
		}
		t.Cleanup(func() { n.Close() })
		if i == 0 {
			boot = []string{n.Mesh().Addrs()[0].String()}
		}
		providers = append(providers, n)
	}
	for i, p := range providers {
		select {
		case <-p.Announced():
		case <-time.After(60 * time.Second):
			t.Fatalf("provider %d did not announce its capabilities within 60s", i)
		}
	}
	client, err := New(ctx, Config{Mode: ModeClient, Bootstrap: boot, Network: "test", Ephemeral: true})
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	t.Cleanup(func() { client.Close() })
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := client.Mesh().WaitTopicPeers(wctx, 1); err != nil {
		t.Fatal(err)
	}
	return client, providers
}

func helloSpec(t *testing.T, mut func(*job.Spec)) Submission {
	t.Helper()
	mod := hello.Module()
	s := &job.Spec{
		Executor: job.ExecutorWASM, Module: job.ModuleCID(mod).String(), Name: "hello.wasm",
		Args: []string{"world"}, Resources: job.Resources{CPUMillis: 1000, MemoryBytes: 64 << 20},
		TimeoutMS: 20_000, Policy: job.PolicyCost,
	}
	if mut != nil {
		mut(s)
	}
	return Submission{Spec: s, Module: mod, BidWindow: 2 * time.Second}
}

func TestEndToEndCheapestWins(t *testing.T) {
	client, provs := testMesh(t, []provSpec{
		{"us-east", "2.0"}, {"eu-west", "0.9"}, {"eu-central", "0.5"}, {"ap-south", "0.7"},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := client.Submit(ctx, helloSpec(t, nil), func(e job.Event) { t.Logf("%s %s %s %s", e.Kind, short(e.Provider), e.Price, e.Message) })
	if err != nil {
		t.Fatal(err)
	}
	if out.State != job.StateCompleted {
		t.Fatalf("state %s: %s", out.State, out.Error)
	}
	if want := provs[2].ID().String(); out.Provider != want {
		t.Fatalf("winner %s, want the cheapest %s", out.Provider, want)
	}
	if got := string(out.Stdout); got == "" {
		t.Fatalf("no stdout")
	}
	fmt.Printf("%s", out.Stdout)
}
