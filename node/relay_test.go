package node

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/mesh"
)

// A provider that nobody can dial (it listens nowhere, as behind NAT) is
// reached through a bootstrap node's relay: it advertises a relayed address,
// a client that cannot be dialled either wins it in an auction and the job
// completes over the relayed connection, the only one between them.
func TestJobOverRelay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const network = "test-relay"
	boot, err := New(ctx, Config{Mode: ModeClient, Network: network, RelayService: true,
		RelayLimit: mesh.RelayLimit{Duration: time.Minute, Data: 16 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { boot.Close() })
	bootAddr := boot.Mesh().Addrs()[0].String()
	if !boot.Info().RelayService {
		t.Fatal("the bootstrap node does not report its relay service")
	}
	if boot.Mesh().RelaysGossip() {
		t.Fatal("the relay forwards gossip before any peer reserved a slot on it")
	}

	prov, err := New(ctx, Config{
		Mode: ModeProvider, Network: network, Region: "eu-west", Rates: job.Rates{CPUHour: job.Nano},
		Capacity: job.Resources{CPUMillis: 2000, MemoryBytes: 1 << 30}, Hardware: testHardware(t),
		Listen: []string{}, Bootstrap: []string{bootAddr}, Relays: []string{bootAddr},
		Reachability: mesh.ReachabilityPrivate,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prov.Close() })
	waitFor(t, "the provider's relayed address", func() bool { return len(prov.Info().Relayed) > 0 })
	if r := prov.Info().Relayed[0]; !strings.Contains(r, boot.ID().String()+"/p2p-circuit") {
		t.Fatalf("relayed address %s is not through the bootstrap node %s", r, boot.ID())
	}
	// The provider's reservation made the relay a member of every topic.
	waitFor(t, "the relay to forward gossip after the provider's reservation", boot.Mesh().RelaysGossip)

	client, err := New(ctx, Config{Mode: ModeClient, Network: network, Ephemeral: true, Listen: []string{},
		Bootstrap: []string{bootAddr}, HeartbeatTimeout: testHeartbeatTimeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	// The provider is not on the client's topics (a relayed connection
	// carries no gossip): the client finds it through the DHT.
	for found := false; !found; time.Sleep(100 * time.Millisecond) {
		if wctx.Err() != nil {
			t.Fatal("the client never found the relayed provider through the DHT")
		}
		for _, p := range client.FindProviders(wctx, job.Need{}) {
			found = found || (p.Peer == prov.ID().String() && p.Record != nil)
		}
	}
	out := submit(t, client, helloSpec(t, nil), nil)
	if out.State != job.StateCompleted || out.Provider != prov.ID().String() {
		t.Fatalf("outcome %s by %s, want completed by the relayed provider %s (%s)", out.State, short(out.Provider), short(prov.ID().String()), out.Error)
	}
	if !strings.Contains(string(out.Stdout), "hello") {
		t.Fatalf("stdout %q", out.Stdout)
	}
	// The relay is on the jobs topics (it forwards them) but is no provider.
	waitFor(t, "the relay on the client's bids topic", func() bool {
		_, bids := client.Mesh().TopicPeers()
		return slices.Contains(bids, boot.ID())
	})
	if jobs, _ := client.Mesh().TopicPeers(); slices.Contains(jobs, boot.ID()) {
		t.Fatal("the gossip relay is counted as a provider on the jobs topic")
	}
	c := client.Mesh().ConnsTo(prov.ID())
	if c.Direct != 0 || c.Relayed == 0 {
		t.Fatalf("client's connections to the provider: %+v, want relayed only", c)
	}
	if p := prov.Info().Conns; p.Relayed == 0 {
		t.Fatalf("provider's connections %+v: none relayed", p)
	}
}

// Test identities are fixed and refused outside test networks.
func TestTestIdentity(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, err := New(ctx, Config{Mode: ModeClient, Network: "test-ids", TestIdentity: "boot1", Ephemeral: true})
	if err != nil {
		t.Fatal(err)
	}
	id := a.ID()
	a.Close()
	b, err := New(ctx, Config{Mode: ModeClient, Network: "test-ids", TestIdentity: "boot1", Ephemeral: true})
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	if b.ID() != id {
		t.Fatalf("test identity boot1 gave %s then %s", id, b.ID())
	}
	if _, err := New(ctx, Config{Mode: ModeClient, Network: "prod", TestIdentity: "boot1", Ephemeral: true}); err == nil || !strings.Contains(err.Error(), "test identity") {
		t.Fatalf("test identity on network prod: %v, want refused", err)
	}
}

// A relay service that nobody reserves (a bootstrap node of a network
// without NAT) stays off the jobs topics: jobs complete through the mesh it
// bootstrapped, and it hears none of their requests.
func TestRelayWithoutReservationsHearsNoJobs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const network = "test-relay-idle"
	boot, err := New(ctx, Config{Mode: ModeClient, Network: network, RelayService: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { boot.Close() })
	bootAddr := boot.Mesh().Addrs()[0].String()
	prov, err := New(ctx, Config{Mode: ModeProvider, Network: network, Bootstrap: []string{bootAddr}, Hardware: testHardware(t),
		Region: "eu-west", Rates: job.Rates{CPUHour: job.Nano}, Capacity: job.Resources{CPUMillis: 2000, MemoryBytes: 1 << 30}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prov.Close() })
	client, err := New(ctx, Config{Mode: ModeClient, Network: network, Ephemeral: true, Bootstrap: []string{bootAddr},
		HeartbeatTimeout: testHeartbeatTimeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if err := client.Mesh().WaitProviders(wctx, 1); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if out := submit(t, client, helloSpec(t, nil), nil); out.State != job.StateCompleted {
			t.Fatalf("job %d: %s: %s", i, out.State, out.Error)
		}
	}
	heard := boot.Mesh().RequestsHeard()
	if boot.Mesh().RelaysGossip() || heard.Messages.Load() > 0 {
		t.Fatalf("the unreserved relay forwards gossip (%v) and heard %d request messages; want neither",
			boot.Mesh().RelaysGossip(), heard.Messages.Load())
	}
	if jobs, _ := client.Mesh().TopicPeers(); slices.Contains(jobs, boot.ID()) {
		t.Fatal("the unreserved relay is on the client's jobs topic")
	}
}
