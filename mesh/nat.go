package mesh

import (
	"context"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/host/autorelay"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	"github.com/libp2p/go-libp2p/p2p/protocol/holepunch"
	ma "github.com/multiformats/go-multiaddr"
)

// Reachability values: how a node tells whether peers can dial it.
const (
	ReachabilityAuto    = ""        // AutoNAT decides (needs public addresses)
	ReachabilityPrivate = "private" // behind NAT: reserve relay slots and advertise them
	ReachabilityPublic  = "public"  // dialable: never use relays for itself
)

// RelayLimit bounds each connection a relay service carries.
type RelayLimit struct {
	Duration time.Duration // a relayed connection is reset after this long
	Data     int64         // bytes relayed in each direction before a reset
}

// What a relay service carries per connection unless told otherwise:
// enough for a module and a job's result, not for bulk data (that should
// go over a direct connection).
const (
	DefaultRelayDuration = 10 * time.Minute
	DefaultRelayData     = 64 << 20
)

// RelayService makes the node a circuit relay v2 for peers behind NAT
// (typically on bootstrap nodes), each relayed connection bounded by lim.
func RelayService(lim RelayLimit) Option {
	return func(c *config) error {
		if lim.Duration <= 0 || lim.Data <= 0 {
			return errorf("relay service limit: duration and data must be positive (got %v, %d bytes)", lim.Duration, lim.Data)
		}
		c.relayService = &lim
		return nil
	}
}

// Relays names the relays a node behind NAT reserves slots on (multiaddrs
// ending in /p2p/<id>); its relayed addresses are advertised once reserved.
func Relays(addrs ...string) Option {
	return func(c *config) error {
		infos, err := ParseAddrInfos(addrs)
		if err != nil {
			return errorf("relay %w", err)
		}
		c.relays = infos
		return nil
	}
}

// Reachability overrides AutoNAT: ReachabilityPrivate for a node known to be
// behind NAT (AutoNAT cannot tell on networks of private addresses),
// ReachabilityPublic for one known to be dialable.
func Reachability(r string) Option {
	return func(c *config) error {
		switch r {
		case ReachabilityAuto, ReachabilityPrivate, ReachabilityPublic:
			c.reachability = r
			return nil
		}
		return errorf("reachability %q: want private, public or empty (auto)", r)
	}
}

// natOptions are the host options of the relay and NAT settings. watch
// learns of a relay service's reservations; hostOf gives the host once it
// exists (nil before).
func natOptions(cfg *config, tracer holepunch.EventTracer, watch *relayWatch, hostOf func() host.Host) []libp2p.Option {
	opts := []libp2p.Option{libp2p.EnableRelay(), libp2p.EnableHolePunching(holepunch.WithTracer(tracer))}
	if lim := cfg.relayService; lim != nil {
		rc := relay.DefaultResources()
		rc.Limit = &relay.RelayLimit{Duration: lim.Duration, Data: lim.Data}
		opts = append(opts, libp2p.EnableRelayService(relay.WithResources(rc), relay.WithACL(watch)))
	}
	if len(cfg.relays) > 0 {
		opts = append(opts, libp2p.EnableAutoRelayWithStaticRelays(cfg.relays,
			autorelay.WithBootDelay(0), autorelay.WithNumRelays(len(cfg.relays)),
			autorelay.WithMinCandidates(1), autorelay.WithBackoff(10*time.Second)))
	}
	switch cfg.reachability {
	case ReachabilityPrivate:
		opts = append(opts, libp2p.ForceReachabilityPrivate())
		if len(cfg.relays) > 0 {
			opts = append(opts, libp2p.AddrsFactory(relayedAddrs(cfg.relays, hostOf)))
		}
	case ReachabilityPublic:
		opts = append(opts, libp2p.ForceReachabilityPublic())
	}
	return opts
}

// relayedAddrs adds the node's addresses through each configured relay it
// is connected to. go-libp2p's autorelay advertises circuit addresses only
// through relays with public addresses; a node behind NAT on a network of
// private addresses (a testnet, a company network) would otherwise have no
// address anyone can dial. A relay address without a reservation (autorelay
// makes and refreshes them) is refused by the relay, never misrouted.
func relayedAddrs(relays []peer.AddrInfo, hostOf func() host.Host) func([]ma.Multiaddr) []ma.Multiaddr {
	return func(addrs []ma.Multiaddr) []ma.Multiaddr {
		h := hostOf()
		if h == nil {
			return addrs
		}
		for _, r := range relays {
			if h.Network().Connectedness(r.ID) != network.Connected {
				continue
			}
			circuit, err := ma.NewMultiaddr("/p2p/" + r.ID.String() + "/p2p-circuit")
			if err != nil {
				continue
			}
			for _, a := range r.Addrs {
				addrs = append(addrs, a.Encapsulate(circuit))
			}
		}
		return addrs
	}
}

// HolePunchStats counts the direct-connection upgrades (DCUtR) this node
// took part in since it started.
type HolePunchStats struct {
	DirectDials int    `json:"direct_dials"` // direct dials tried before punching
	Started     int    `json:"started"`      // hole punches started
	Succeeded   int    `json:"succeeded"`
	Failed      int    `json:"failed"`
	LastError   string `json:"last_error,omitempty"`
	// Active says whether DCUtR runs at all: go-libp2p starts it only once
	// the host has a public address.
	Active bool `json:"active"`
}

// punchTracer records hole punching events.
type punchTracer struct {
	mu sync.Mutex
	s  HolePunchStats
}

func (t *punchTracer) Trace(evt *holepunch.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch e := evt.Evt.(type) {
	case *holepunch.DirectDialEvt:
		t.s.DirectDials++
		if !e.Success && e.Error != "" {
			t.s.LastError = "direct dial: " + e.Error
		}
	case *holepunch.StartHolePunchEvt:
		t.s.Started++
	case *holepunch.EndHolePunchEvt:
		if e.Success {
			t.s.Succeeded++
		} else {
			t.s.Failed++
			t.s.LastError = e.Error
		}
	case *holepunch.ProtocolErrorEvt:
		t.s.Failed++
		t.s.LastError = "protocol: " + e.Error
	}
}

func (t *punchTracer) stats() HolePunchStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.s
}

// HolePunch reports the node's hole punching so far.
func (m *Mesh) HolePunch() HolePunchStats {
	s := m.punch.stats()
	for _, p := range m.host.Mux().Protocols() {
		if p == holepunch.Protocol {
			s.Active = true
		}
	}
	return s
}

// ConnStats counts the node's connections by kind.
type ConnStats struct {
	Direct  int `json:"direct"`
	Relayed int `json:"relayed"` // limited connections through a relay
}

// Conns counts the node's open connections, direct and relayed.
func (m *Mesh) Conns() ConnStats {
	var s ConnStats
	for _, c := range m.host.Network().Conns() {
		if c.Stat().Limited {
			s.Relayed++
		} else {
			s.Direct++
		}
	}
	return s
}

// ConnsTo counts the node's open connections to p, direct and relayed.
func (m *Mesh) ConnsTo(p peer.ID) ConnStats {
	var s ConnStats
	for _, c := range m.host.Network().ConnsToPeer(p) {
		if c.Stat().Limited {
			s.Relayed++
		} else {
			s.Direct++
		}
	}
	return s
}

// AllowRelayed marks ctx so that streams opened with it may use a relayed
// (limited) connection when no direct one exists: how a client reaches a
// provider behind NAT, and how that provider answers.
func AllowRelayed(ctx context.Context) context.Context {
	return network.WithAllowLimitedConn(ctx, "computemesh")
}
