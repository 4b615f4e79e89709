package mesh

import (
	"slices"
	"sync"
	"sync/atomic"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// RelayGossip makes the node a member of every job, bid and capacity topic
// so that it forwards their messages (it validates them like any member)
// even where it has no use for them: the role of a relay through which
// peers behind NAT, whose relayed connections carry no gossip, hear and are
// heard. A relay service does it at its first reservation (relayWatch);
// until then it does no work per job. Such a node says so (a protocol of
// its own) and is never counted as a provider on the jobs topics.
func (m *Mesh) RelayGossip() error {
	t := m.topics
	t.mu.Lock()
	defer t.mu.Unlock()
	m.host.SetStreamHandler(m.Protocol(gossipRelayProto), func(s network.Stream) { _ = s.Reset() })
	for _, s := range []struct {
		topic   *pubsub.Topic
		sub     **pubsub.Subscription
		deliver func(any, peer.ID)
	}{
		{t.jobs, &t.jobsSub, t.deliverRequest}, {t.jobsGPU, &t.jobsGPUSub, t.deliverRequest},
		{t.bids, &t.bidsSub, t.deliverBid}, {t.capacity, &t.capSub, t.deliverCapacity},
	} {
		if err := t.subscribeLocked(s.topic, s.sub, s.deliver); err != nil {
			return err
		}
	}
	t.relaying = true
	return nil
}

// RelaysGossip reports whether the node forwards every topic's gossip
// (RelayGossip).
func (m *Mesh) RelaysGossip() bool {
	m.topics.mu.RLock()
	defer m.topics.mu.RUnlock()
	return m.topics.relaying
}

const gossipRelayProto = "gossip-relay"

// providersOf leaves out of a jobs topic's peers the gossip relays, which
// subscribe without bidding.
func (m *Mesh) providersOf(ps []peer.ID) []peer.ID {
	return slices.DeleteFunc(ps, func(p peer.ID) bool {
		got, _ := m.host.Peerstore().SupportsProtocols(p, m.Protocol(gossipRelayProto))
		return len(got) > 0
	})
}

// relayWatch is a relay service's ACL: it admits every reservation and
// circuit (the service's resource limits bound them) and makes the node a
// gossip relay at the first reservation, before answering it, so that a
// peer behind NAT is heard from the moment its relayed address is valid. A
// relay nobody reserves (a bootstrap node of a network without NAT, a
// devnet) stays off the topics it has no use for and does no work per job.
type relayWatch struct {
	mesh     atomic.Pointer[Mesh] // set once the mesh has joined its topics
	reserved atomic.Bool
	once     sync.Once
}

// AllowReserve implements relay.ACLFilter.
func (w *relayWatch) AllowReserve(p peer.ID, _ ma.Multiaddr) bool {
	w.reserved.Store(true)
	if m := w.mesh.Load(); m != nil {
		w.relay(m, p)
	}
	return true
}

// AllowConnect implements relay.ACLFilter.
func (w *relayWatch) AllowConnect(peer.ID, ma.Multiaddr, peer.ID) bool { return true }

// attach hands the watch its mesh, once its topics are joined; a
// reservation made before then takes effect now.
func (w *relayWatch) attach(m *Mesh) {
	w.mesh.Store(m)
	if w.reserved.Load() {
		w.relay(m, "")
	}
}

func (w *relayWatch) relay(m *Mesh, p peer.ID) {
	w.once.Do(func() {
		if err := m.RelayGossip(); err != nil {
			log.Warnw("relay service: forwarding gossip for the peers that reserve here", "err", err)
			return
		}
		log.Infow("relay service: first reservation: this node forwards every topic's gossip from now on", "peer", p)
	})
}
