package mesh

import (
	"context"
	"slices"

	kb "github.com/libp2p/go-libp2p-kbucket"
	"github.com/libp2p/go-libp2p/core/peer"
)

// ClosestPeers returns the k DHT servers closest to key (by the DHT's XOR
// metric over SHA-256), this node included if it is one of them: the
// peers a DHT lookup finds, with those of this node's routing table, sorted
// by distance. An empty routing table gives none.
func (m *Mesh) ClosestPeers(ctx context.Context, key string, k int) ([]peer.ID, error) {
	found, err := m.dht.GetClosestPeers(ctx, key)
	cands := slices.Concat(found, m.dht.RoutingTable().ListPeers())
	if m.cfg.server {
		cands = append(cands, m.host.ID())
	}
	slices.Sort(cands)
	cands = slices.Compact(cands)
	sorted := kb.SortClosestPeers(cands, kb.ConvertKey(key))
	if len(sorted) > k {
		sorted = sorted[:k]
	}
	if len(sorted) > 0 {
		err = nil // a lookup cut short still leaves the closest known
	}
	return sorted, err
}
