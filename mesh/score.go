package mesh

import (
	"maps"
	"net"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Peer scoring (GossipSub v1.1). A peer's score falls only for what it
// alone can be blamed for: forwarding a message that fails validation
// (malformed, unsigned, forged), and crowding many peers onto one IP. A
// message over its author's rate is ignored, not held against whoever
// forwarded it, so the bootstrap nodes' gossip relays, which forward
// everyone's messages, keep a score of at least 0.
const (
	// Score thresholds: below GossipThreshold a peer gets no gossip, below
	// PublishThreshold none of this node's own messages, below
	// GraylistThreshold everything it sends is dropped unread.
	GossipThreshold   = -10.0
	PublishThreshold  = -50.0
	GraylistThreshold = -80.0

	// invalidWeight is what one invalid message costs (squared in their
	// number): the third graylists its forwarder.
	invalidWeight = -10.0

	// DefaultIPColocation is how many peers may share one IP before each
	// of them is penalised (by the square of the excess).
	DefaultIPColocation = 10
	colocationWeight    = -5.0

	// scoreDecayInterval is how often GossipSub decays its peers'
	// counters, and scoreInspectPeriod how often it reports their scores
	// (PeerScores). Each is a pass over every peer it has scored (connected
	// ones and those it retains): once a second (GossipSub's default) they
	// were 9 % of the CPU of a formed 250-node mesh in one process (a node
	// there scores 200 peers), for counters that decay over minutes.
	scoreDecayInterval = 10 * time.Second
	scoreInspectPeriod = 10 * time.Second
)

// IPColocation sets how many peers may share one IP before GossipSub's
// score penalises them (threshold ≥ 1), and the networks (CIDRs) exempt
// from it. Default: DefaultIPColocation, none exempt. Loopback peers are
// never counted (GossipSub leaves them out: one machine's own nodes).
func IPColocation(threshold int, exempt ...string) Option {
	return func(c *config) error {
		if threshold < 1 {
			return errorf("IP colocation threshold %d: must be at least 1 peer per IP", threshold)
		}
		nets := make([]*net.IPNet, 0, len(exempt))
		for _, s := range exempt {
			_, n, err := net.ParseCIDR(s)
			if err != nil {
				return errorf("IP colocation exempt network %q: %w", s, err)
			}
			nets = append(nets, n)
		}
		c.colocation, c.colocationExempt = threshold, nets
		return nil
	}
}

// scoreParams are the peer score parameters of a node on network names
// (the topic names it scores).
func scoreParams(c *config, topicNames []string) (*pubsub.PeerScoreParams, *pubsub.PeerScoreThresholds) {
	topics := make(map[string]*pubsub.TopicScoreParams, len(topicNames))
	for _, name := range topicNames {
		topics[name] = &pubsub.TopicScoreParams{
			SkipAtomicValidation: true,
			TopicWeight:          1,
			// P1 is off (weight 0), but its quantum divides.
			TimeInMeshQuantum: time.Second,
			TimeInMeshCap:     1,
			// P2: first deliveries of valid messages raise a peer a little
			// (at most 5 per topic), and decay in a minute.
			FirstMessageDeliveriesWeight: 0.5,
			FirstMessageDeliveriesDecay:  scoreDecay(time.Minute),
			FirstMessageDeliveriesCap:    10,
			// P4: invalid messages, remembered for about ten minutes.
			InvalidMessageDeliveriesWeight: invalidWeight,
			InvalidMessageDeliveriesDecay:  scoreDecay(10 * time.Minute),
		}
		// P1 (time in mesh) and P3 (mesh delivery rate) stay off: the jobs
		// and ledger topics are quiet for long stretches, and a quiet topic
		// must not count against the peers that carry it.
	}
	threshold := c.colocation
	if threshold == 0 {
		threshold = DefaultIPColocation
	}
	params := &pubsub.PeerScoreParams{
		SkipAtomicValidation: true,
		Topics:               topics,
		TopicScoreCap:        20,
		// No peer is trusted beyond what it earns: bootstrap nodes get no
		// bonus (a bonus would let a bad one forge unpunished).
		AppSpecificScore:            func(peer.ID) float64 { return 0 },
		AppSpecificWeight:           1,
		IPColocationFactorWeight:    colocationWeight,
		IPColocationFactorThreshold: threshold,
		IPColocationFactorWhitelist: c.colocationExempt,
		// P7: GossipSub's own protocol penalties (e.g. ignoring IWANTs).
		BehaviourPenaltyWeight:    -1,
		BehaviourPenaltyThreshold: 6,
		BehaviourPenaltyDecay:     scoreDecay(10 * time.Minute),
		DecayInterval:             scoreDecayInterval,
		DecayToZero:               pubsub.DefaultDecayToZero,
		RetainScore:               10 * time.Minute,
		// Delivery records live as long as seen message IDs (not the
		// default 2 min): a flood's records go with them.
		SeenMsgTTL: seenTTL,
	}
	thresholds := &pubsub.PeerScoreThresholds{
		GossipThreshold:   GossipThreshold,
		PublishThreshold:  PublishThreshold,
		GraylistThreshold: GraylistThreshold,
		// Peer exchange from any peer in good standing, as without scoring.
		AcceptPXThreshold: 0,
		// Opportunistic grafting off: most peers' scores sit near 0.
		OpportunisticGraftThreshold: 0,
	}
	return params, thresholds
}

// scoreDecay is the factor by which a counter that should fall to nothing
// in d is multiplied every scoreDecayInterval.
func scoreDecay(d time.Duration) float64 {
	return pubsub.ScoreParameterDecayWithBase(d, scoreDecayInterval, pubsub.DefaultDecayToZero)
}

// scores keeps the latest peer scores GossipSub reported.
type scores struct {
	mu     sync.Mutex
	latest map[peer.ID]float64
}

func (s *scores) inspect(m map[peer.ID]float64) {
	s.mu.Lock()
	s.latest = m
	s.mu.Unlock()
}

// PeerScores returns the GossipSub scores of the connected peers, as of the
// last scoreInspectPeriod.
func (m *Mesh) PeerScores() map[peer.ID]float64 {
	m.scores.mu.Lock()
	defer m.scores.mu.Unlock()
	return maps.Clone(m.scores.latest)
}
