package mesh

import (
	"context"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	mh "github.com/multiformats/go-multihash"
)

// CapabilityCID returns the DHT key of a capability, e.g. "cpu",
// "executor=wasm" or "region=eu-west": the CID (v1, raw, sha2-256) of
// "computemesh/<network>/cap/<capability>".
func (m *Mesh) CapabilityCID(capability string) cid.Cid {
	h, _ := mh.Sum([]byte("computemesh/"+m.cfg.network+"/cap/"+capability), mh.SHA2_256, -1)
	return cid.NewCidV1(cid.Raw, h)
}

// reprovideInterval is how often announced capabilities are provided again,
// well inside the DHT's 48 h provider-record lifetime.
const reprovideInterval = 12 * time.Hour

// Announce provides the given capabilities on the DHT in the background,
// once the routing table has a peer (and again, backing off, while a
// round fails); again after 10 s, 1 min and
// 10 min, because a young mesh grows and the peers closest to a key change
// (records stored only on the first few nodes are missed by later look-ups);
// then every 12 hours, until the Mesh is closed. ready, if not nil, is
// closed after the first round in which every capability was provided.
func (m *Mesh) Announce(capabilities []string, ready chan<- struct{}) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		backoff := 100 * time.Millisecond
		early := []time.Duration{10 * time.Second, time.Minute, 10 * time.Minute}
		for {
			m.awaitRoutingTable(m.ctx)
			ok := true
			for _, c := range capabilities {
				ctx, cancel := context.WithTimeout(m.ctx, 30*time.Second)
				err := m.dht.Provide(ctx, m.CapabilityCID(c), true)
				cancel()
				if err != nil {
					ok = false
					log.Debugw("announcing a capability (retrying)", "capability", c, "err", err)
				}
			}
			wait := reprovideInterval
			if ok && len(early) > 0 {
				wait, early = early[0], early[1:]
			}
			if ok {
				if ready != nil {
					close(ready)
					ready = nil
				}
				backoff = 100 * time.Millisecond
			} else {
				wait = backoff
				backoff = min(backoff*2, 10*time.Second)
			}
			select {
			case <-m.ctx.Done():
				return
			case <-time.After(wait):
			}
		}
	}()
}

// awaitRoutingTable returns once the DHT's routing table has a peer, or ctx
// is done. kad-dht adds a peer only after identify has shown that it serves
// the DHT (and a probe has answered), so a node that has just dialled its
// bootstrap peers has none for a moment, longer on a busy machine; a
// Provide or PutValue made then fails at once, and retrying it with a
// doubling backoff made a young provider's announcement wait 3, 6 or 12 s
// (a 500-node mesh on two cores: docs/BENCHMARKS.md).
func (m *Mesh) awaitRoutingTable(ctx context.Context) {
	poll := 10 * time.Millisecond
	for m.dht.RoutingTable().Size() == 0 {
		select {
		case <-ctx.Done():
			return
		case <-time.After(poll):
		}
		poll = min(poll*2, 250*time.Millisecond)
	}
}

// FindProviders asks the DHT for the peers that provide a capability and
// returns them when the lookup ends or ctx is done. A node that has just
// connected may not have its first DHT peer in the routing table yet (that
// follows identify): it waits for one, within ctx, before looking up.
func (m *Mesh) FindProviders(ctx context.Context, capability string) []peer.AddrInfo {
	for m.dht.RoutingTable().Size() == 0 && len(m.host.Network().Peers()) > 0 {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(10 * time.Millisecond):
		}
	}
	var out []peer.AddrInfo
	for ai := range m.dht.FindProvidersAsync(ctx, m.CapabilityCID(capability), 0) {
		if ai.ID != m.host.ID() {
			out = append(out, ai)
		}
	}
	return out
}

// RTT returns the smoothed round-trip time to p measured so far, 0 when
// unknown.
func (m *Mesh) RTT(p peer.ID) time.Duration {
	return m.host.Peerstore().LatencyEWMA(p)
}

// Ping measures the round-trip time to p once (recording it in the
// peerstore's moving average).
func (m *Mesh) Ping(ctx context.Context, p peer.ID) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	select {
	case r := <-ping.Ping(ctx, m.host, p):
		if r.Error != nil {
			return 0, errorf("ping %s: %w", p, r.Error)
		}
		return r.RTT, nil
	case <-ctx.Done():
		return 0, errorf("ping %s: %w", p, ctx.Err())
	}
}

// Capabilities returns the capability keys a provider with this offer
// announces.
func Capabilities(region string, executors []string) []string {
	caps := []string{"cpu"}
	for _, e := range executors {
		caps = append(caps, "executor="+e)
	}
	if region != "" {
		caps = append(caps, "region="+region)
	}
	return caps
}
