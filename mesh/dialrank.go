package mesh

import (
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	ma "github.com/multiformats/go-multiaddr"
)

// preferTCP is the host's dial ranker: a peer's direct TCP addresses are
// dialled first (in go-libp2p's usual order among themselves), its other
// addresses (QUIC, relays, ...) only swarm.PublicTCPDelay after the last
// of them, or at once when every TCP dial has failed. go-libp2p prefers
// QUIC; computemesh's traffic is many small messages (requests, bids,
// awards, receipts), for which quic-go's user-space packets and
// acknowledgements cost more than TCP with Noise and yamux: on a devnet,
// 2,000 tiny jobs took 5.2–5.4 ms of CPU a job over TCP against 5.6–6.1
// with QUIC (docs/BENCHMARKS.md). A peer that offers no TCP address is
// dialled as before; hole punching and relays are unchanged.
func preferTCP(addrs []ma.Multiaddr) []network.AddrDelay {
	var tcp, rest []ma.Multiaddr
	for _, a := range addrs {
		if isDirectTCP(a) {
			tcp = append(tcp, a)
		} else {
			rest = append(rest, a)
		}
	}
	if len(tcp) == 0 || len(rest) == 0 {
		return swarm.DefaultDialRanker(addrs)
	}
	out := swarm.DefaultDialRanker(tcp)
	var last time.Duration
	for _, d := range out {
		last = max(last, d.Delay)
	}
	for _, d := range swarm.DefaultDialRanker(rest) {
		d.Delay += last + swarm.PublicTCPDelay
		out = append(out, d)
	}
	return out
}

// isDirectTCP reports whether a is a TCP address that is not a relay's
// circuit (nor a websocket).
func isDirectTCP(a ma.Multiaddr) bool {
	tcp := false
	for _, c := range a {
		switch c.Protocol().Code {
		case ma.P_TCP:
			tcp = true
		case ma.P_CIRCUIT, ma.P_WS, ma.P_WSS, ma.P_HTTP, ma.P_HTTPS:
			return false
		}
	}
	return tcp
}
