package node

import (
	"context"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

// attacker is a raw libp2p host with GossipSub and no validators: it
// publishes whatever bytes a test gives it on a network's topics.
type attacker struct {
	ps     *pubsub.PubSub
	topics map[string]*pubsub.Topic
}

func newAttacker(t *testing.T, network string, peers []*Node) *attacker {
	t.Helper()
	h, ps := rawGossipPeer(t, pubsub.WithMaxMessageSize(4<<20))
	a := &attacker{ps: ps, topics: map[string]*pubsub.Topic{}}
	for _, name := range []string{"jobs", "bids"} {
		tp, err := ps.Join("computemesh/" + network + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tp.Subscribe(); err != nil {
			t.Fatal(err)
		}
		a.topics[name] = tp
	}
	connectTo(t, h, peers)
	deadline := time.Now().Add(30 * time.Second)
	for len(a.topics["jobs"].ListPeers()) < len(peers) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	return a
}

// rawGossipPeer is a bare libp2p host on loopback with GossipSub of its own
// (none of the node's validators or limits): a hostile peer's tools.
func rawGossipPeer(t testing.TB, opts ...pubsub.Option) (host.Host, *pubsub.PubSub) {
	t.Helper()
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ps, err := pubsub.NewGossipSub(ctx, h, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return h, ps
}

// connectTo connects h to every node of peers.
func connectTo(t testing.TB, h host.Host, peers []*Node) {
	t.Helper()
	for _, p := range peers {
		if err := h.Connect(context.Background(), peer.AddrInfo{ID: p.ID(), Addrs: p.Mesh().Host().Addrs()}); err != nil {
			t.Fatal(err)
		}
	}
}

func (a *attacker) publish(t *testing.T, topic string, data []byte) {
	t.Helper()
	if err := a.topics[topic].Publish(context.Background(), data); err != nil {
		t.Fatalf("attacker publishing on %s: %v", topic, err)
	}
}
