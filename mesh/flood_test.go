package mesh

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

func testPeer(t *testing.T) peer.ID {
	t.Helper()
	return testKey(t).id
}

func TestAuthorLimiter(t *testing.T) {
	a, b := testPeer(t), testPeer(t)
	t0 := time.Unix(1_700_000_000, 0)
	tests := []struct {
		name string
		// sends are (author, offset from t0); want says which pass.
		sends []struct {
			who peer.ID
			at  time.Duration
		}
		want []bool
	}{
		{
			name: "burst then refused",
			sends: []struct {
				who peer.ID
				at  time.Duration
			}{{a, 0}, {a, 0}, {a, 0}, {a, 0}},
			want: []bool{true, true, true, false},
		},
		{
			name: "authors are counted apart",
			sends: []struct {
				who peer.ID
				at  time.Duration
			}{{a, 0}, {a, 0}, {a, 0}, {b, 0}, {a, 0}},
			want: []bool{true, true, true, true, false},
		},
		{
			name: "the bucket refills at the rate",
			sends: []struct {
				who peer.ID
				at  time.Duration
			}{{a, 0}, {a, 0}, {a, 0}, {a, 0}, {a, 100 * time.Millisecond}, {a, 100 * time.Millisecond}, {a, 10 * time.Second}, {a, 10 * time.Second}, {a, 10 * time.Second}, {a, 10 * time.Second}},
			want: []bool{true, true, true, false, true, false, true, true, true, false},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newAuthorLimiter(10, 3) // 10/s, 3 at once
			refused := 0
			for i, s := range tt.sends {
				got := l.allow(s.who, t0.Add(s.at))
				if got != tt.want[i] {
					t.Fatalf("send %d (at %v): allowed %v, want %v", i, s.at, got, tt.want[i])
				}
				if !got {
					refused++
				}
			}
			if l.over.Load() != int64(refused) {
				t.Fatalf("counted %d over the rate, want %d", l.over.Load(), refused)
			}
		})
	}
}

// Many authors: the map stays bounded, and busy authors keep their
// (empty) buckets ahead of idle ones.
func TestAuthorLimiterBounded(t *testing.T) {
	l := newAuthorLimiter(1, 2)
	now := time.Unix(1_700_000_000, 0)
	busy := testPeer(t)
	l.allow(busy, now)
	l.allow(busy, now)
	for i := range maxAuthors * 2 {
		var id [8]byte
		for k := range id {
			id[k] = byte(i >> (8 * k))
		}
		l.allow(peer.ID(id[:]), now)
		if i%1000 == 0 {
			now = now.Add(10 * time.Second) // earlier authors have refilled: idle
		}
	}
	if n := l.size(); n > maxAuthors {
		t.Fatalf("%d authors remembered, limit %d", n, maxAuthors)
	}
}

func TestFloodOptionsRefuseBadValues(t *testing.T) {
	for _, tt := range []struct {
		name string
		opt  Option
		want string
	}{
		{"zero rate", RequestRate(0, 10), "request rate"},
		{"negative burst", RequestRate(10, -1), "request burst"},
		{"zero colocation", IPColocation(0), "IP colocation threshold"},
		{"bad exempt network", IPColocation(3, "not-a-cidr"), "not-a-cidr"},
		{"zero conns per IP", ConnsPerIP(0), "connections per IP"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckOptions(tt.opt)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one naming %q", err, tt.want)
			}
		})
	}
}

// The colocation settings reach GossipSub's score parameters, and every
// topic the node speaks on is scored. (GossipSub leaves loopback peers out
// of the colocation count, so it cannot be exercised over 127.0.0.1.)
func TestScoreParams(t *testing.T) {
	for _, tt := range []struct {
		name          string
		opts          []Option
		wantThreshold int
		wantExempt    int
	}{
		{"default", nil, DefaultIPColocation, 0},
		{"configured", []Option{IPColocation(3, "10.0.0.0/8", "fd00::/8")}, 3, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var c config
			for _, o := range tt.opts {
				if err := o(&c); err != nil {
					t.Fatal(err)
				}
			}
			names := []string{"a", "b"}
			p, th := scoreParams(&c, names)
			if p.IPColocationFactorThreshold != tt.wantThreshold || len(p.IPColocationFactorWhitelist) != tt.wantExempt {
				t.Fatalf("threshold %d, %d exempt; want %d, %d", p.IPColocationFactorThreshold, len(p.IPColocationFactorWhitelist), tt.wantThreshold, tt.wantExempt)
			}
			if p.IPColocationFactorWeight >= 0 {
				t.Fatalf("colocation weight %v: must be negative", p.IPColocationFactorWeight)
			}
			for _, n := range names {
				if tp := p.Topics[n]; tp == nil || tp.InvalidMessageDeliveriesWeight >= 0 {
					t.Fatalf("topic %s: %+v; want invalid messages penalised", n, tp)
				}
			}
			if !(th.GraylistThreshold < th.PublishThreshold && th.PublishThreshold < th.GossipThreshold && th.GossipThreshold < 0) {
				t.Fatalf("thresholds %+v out of order", th)
			}
		})
	}
}

// A node on a live mesh reports its peers' scores; honest peers that only
// forward valid messages stay at 0 or above.
func TestPeerScoresReported(t *testing.T) {
	ctx := context.Background()
	var ms []*Mesh
	for range 3 {
		m, err := New(ctx, Network("test-score"), Listen("/ip4/127.0.0.1/tcp/0"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		ms = append(ms, m)
	}
	for _, m := range ms[1:] {
		if err := m.Connect(ctx, peer.AddrInfo{ID: ms[0].ID(), Addrs: ms[0].Host().Addrs()}); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		s := ms[0].PeerScores()
		if len(s) >= 2 {
			for p, v := range s {
				if v < 0 {
					t.Fatalf("honest peer %s scores %v", p, v)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("scores of %d peers after a minute, want 2", len(s))
		}
	}
}
