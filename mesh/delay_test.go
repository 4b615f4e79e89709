package mesh

import (
	"context"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// A delayed node's round trips take the delay longer: ping sees it.
func TestDelayIsSeenByPing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const d = 40 * time.Millisecond
	slow, err := New(ctx, Network("test-delay"), Listen("/ip4/127.0.0.1/tcp/0"), Delay(d))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { slow.Close() })
	fast, err := New(ctx, Network("test-delay"), Listen("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fast.Close() })
	other, err := New(ctx, Network("test-delay"), Listen("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	for _, c := range []*Mesh{fast, other} {
		if err := c.Connect(ctx, peer.AddrInfo{ID: slow.ID(), Addrs: slow.Host().Addrs()}); err != nil {
			t.Fatal(err)
		}
	}
	if err := fast.Connect(ctx, peer.AddrInfo{ID: other.ID(), Addrs: other.Host().Addrs()}); err != nil {
		t.Fatal(err)
	}
	rtt := func(from *Mesh, to peer.ID) time.Duration {
		best := time.Hour
		for range 3 {
			r, err := from.Ping(ctx, to)
			if err != nil {
				t.Fatal(err)
			}
			best = min(best, r)
			time.Sleep(20 * time.Millisecond)
		}
		return best
	}
	if r := rtt(fast, slow.ID()); r < d {
		t.Fatalf("RTT to the delayed node %v, want at least %v", r, d)
	}
	if r := rtt(slow, fast.ID()); r < d {
		t.Fatalf("RTT from the delayed node %v, want at least %v", r, d)
	}
	if r := rtt(fast, other.ID()); r >= d {
		t.Fatalf("RTT between undelayed nodes %v, want under %v", r, d)
	}
}
