package mesh

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	ma "github.com/multiformats/go-multiaddr"
)

// preferTCP dials direct TCP addresses first and everything else later,
// and leaves a peer without TCP addresses to go-libp2p's ranking.
func TestPreferTCP(t *testing.T) {
	const (
		quic   = "/ip4/127.0.0.1/udp/4001/quic-v1"
		tcp    = "/ip4/127.0.0.1/tcp/4001"
		tcp6   = "/ip6/::1/tcp/4001"
		relay  = "/ip4/127.0.0.1/tcp/4002/p2p/12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq/p2p-circuit"
		public = "/ip4/1.2.3.4/udp/4001/quic-v1"
	)
	cases := []struct {
		name  string
		addrs []string
		first []string // dialled before any other; nil: as go-libp2p ranks them
	}{
		{"tcp before quic", []string{quic, tcp}, []string{tcp}},
		{"both tcp before quic", []string{quic, tcp6, tcp}, []string{tcp, tcp6}},
		{"a relay circuit is not direct tcp", []string{relay, quic}, nil},
		{"quic alone", []string{quic, public}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var addrs []ma.Multiaddr
			for _, s := range c.addrs {
				addrs = append(addrs, ma.StringCast(s))
			}
			ranked := preferTCP(addrs)
			if len(ranked) != len(addrs) {
				t.Fatalf("%d addresses ranked, want %d", len(ranked), len(addrs))
			}
			if c.first == nil {
				if want := swarm.DefaultDialRanker(addrs); fmt.Sprint(ranked) != fmt.Sprint(want) {
					t.Fatalf("ranked %v, want go-libp2p's %v", ranked, want)
				}
				return
			}
			var lastFirst, firstRest time.Duration = -1, time.Hour
			for _, d := range ranked {
				isFirst := false
				for _, f := range c.first {
					isFirst = isFirst || d.Addr.String() == f
				}
				if isFirst {
					lastFirst = max(lastFirst, d.Delay)
				} else {
					firstRest = min(firstRest, d.Delay)
				}
			}
			if lastFirst < 0 || lastFirst >= firstRest {
				t.Fatalf("ranked %v: want %v dialled before the rest", ranked, c.first)
			}
			if firstRest < lastFirst+swarm.PublicTCPDelay {
				t.Fatalf("ranked %v: the rest within %v of the last TCP dial", ranked, swarm.PublicTCPDelay)
			}
		})
	}
}

// Two nodes that both listen on TCP and QUIC connect over TCP.
func TestConnectsOverTCP(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := New(ctx, Network("test-dialrank"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	b, err := New(ctx, Network("test-dialrank"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	hasQUIC := false
	for _, addr := range a.Host().Addrs() {
		_, err := addr.ValueForProtocol(ma.P_QUIC_V1)
		hasQUIC = hasQUIC || err == nil
	}
	if !hasQUIC {
		t.Fatalf("a listens on %v: want a QUIC address too", a.Host().Addrs())
	}
	if err := b.Connect(ctx, peer.AddrInfo{ID: a.ID(), Addrs: a.Host().Addrs()}); err != nil {
		t.Fatal(err)
	}
	for _, c := range b.Host().Network().ConnsToPeer(a.ID()) {
		if !isDirectTCP(c.RemoteMultiaddr()) {
			t.Fatalf("connected over %s, want TCP", c.RemoteMultiaddr())
		}
	}
}
