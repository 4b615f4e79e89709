package mesh

import (
	"context"
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/libp2p/go-libp2p/core/peer"
)

// A node that takes the capacity topic and serves the DHT is announced as
// a listener there, and a provider's record reaches it by gossip (a
// provider that knows no peer on the topic waits for one, and looks up the
// listeners on the DHT and dials them).
func TestCapacityReachesAListener(t *testing.T) {
	ctx := context.Background()
	const network = "test-listen"
	newMesh := func(opts ...Option) *Mesh {
		m, err := New(ctx, append([]Option{Network(network), Listen("/ip4/127.0.0.1/tcp/0")}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		return m
	}
	hub := newMesh()
	boot := Bootstrap(hub.Addrs()[0].String())
	listener := newMesh(boot)
	got := make(chan *job.Capacity, 16)
	if err := listener.OnCapacity(func(c *job.Capacity) { got <- c }); err != nil {
		t.Fatal(err)
	}
	prov := newMesh(boot)
	rec := &job.Capacity{V: job.Version, Peer: prov.ID().String(), Network: network, Seq: 1,
		ExpiresMS: time.Now().Add(time.Hour).UnixMilli(), Executors: []string{job.ExecutorWASM}}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := prov.PutCapacity(pctx, rec); err != nil {
		t.Logf("storing on the DHT: %v (the gossip is what this test is about)", err)
	}
	deadline := time.After(60 * time.Second)
	for listed := false; !listed; {
		for _, ai := range hub.FindProviders(ctx, listenersKey) {
			listed = listed || ai.ID == listener.ID()
		}
		select {
		case <-deadline:
			t.Fatal("the listener is not announced on the DHT")
		case <-time.After(50 * time.Millisecond):
		}
	}
	for {
		select {
		case c := <-got:
			if c.Peer == prov.ID().String() && c.Seq == rec.Seq {
				return
			}
		case <-deadline:
			t.Fatalf("the listener did not receive the provider's gossiped record (connected: %v)", prov.Host().Network().Connectedness(listener.ID()))
		}
	}
}

// A peer known by its ID only (a provider heard of through its gossiped
// record) is dialled at the addresses the DHT has for it.
func TestConnectByIDOnly(t *testing.T) {
	ctx := context.Background()
	const network = "test-connect-id"
	newMesh := func(opts ...Option) *Mesh {
		m, err := New(ctx, append([]Option{Network(network), Listen("/ip4/127.0.0.1/tcp/0")}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		return m
	}
	hub := newMesh()
	boot := Bootstrap(hub.Addrs()[0].String())
	a, b := newMesh(boot), newMesh(boot)
	// The hub knows b, and a knows the hub (a look-up from an empty
	// routing table finds nothing at once).
	for hub.DHT().RoutingTable().Find(b.ID()) == "" || a.DHT().RoutingTable().Find(hub.ID()) == "" {
		time.Sleep(20 * time.Millisecond)
	}
	_ = a.Host().Network().ClosePeer(b.ID())
	a.Host().Peerstore().ClearAddrs(b.ID())
	// A look-up may end before the hub's routing table has answered (a
	// DHT that has just formed): the caller tries again, as a client's next
	// auction does.
	deadline := time.Now().Add(30 * time.Second)
	for {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := a.Connect(cctx, peer.AddrInfo{ID: b.ID()})
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("a peer known by its ID only was not found in 30 s: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
