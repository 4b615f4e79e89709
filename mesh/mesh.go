package mesh

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	logging "github.com/ipfs/go-log/v2"
	"github.com/libp2p/go-libp2p"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	record "github.com/libp2p/go-libp2p-record"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/discovery/mdns"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
	libp2pquic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
)

var log = logging.Logger("computemesh/mesh")

func errorf(format string, a ...any) error { return fmt.Errorf("mesh: "+format, a...) }

// seenTTL is how long a node remembers the IDs of the messages it has seen.
const seenTTL = 15 * time.Second

// Mesh is one node's membership of a computemesh network. It owns its host,
// DHT and pubsub and their goroutines; Close releases them all.
type Mesh struct {
	cfg     config
	host    host.Host
	dht     *dht.IpfsDHT
	ps      *pubsub.PubSub
	topics  *topics
	mdns    mdns.Service
	punch   *punchTracer
	limit   *authorLimiter // job requests per author
	pace    *pacer         // this node's own job requests (reqbatch.go)
	bidSend *bidSender
	scores  scores

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	closeOnce sync.Once

	capMu  sync.Mutex
	capRec []byte // this node's own signed capacity record

	capVerified verifiedCapacity // capacity records verified (the DHT's validator)
}

// New starts a node: host, DHT, pubsub and the network's topics, and dials
// the bootstrap peers (without failing when none answers: the node keeps
// trying in the background).
func New(ctx context.Context, opts ...Option) (*Mesh, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	punch, watch := &punchTracer{}, &relayWatch{}
	h := cfg.host
	if h == nil {
		if h, err = newHost(&cfg, punch, watch); err != nil {
			return nil, err
		}
	}
	m := &Mesh{cfg: cfg, host: h, punch: punch, limit: newAuthorLimiter(cfg.requestRate, cfg.requestBurst),
		pace: newPacer(cfg.requestRate, cfg.requestBurst)}
	m.bidSend = newBidSender(m)
	m.ctx, m.cancel = context.WithCancel(context.Background())
	fail := func(err error) (*Mesh, error) {
		m.Close()
		return nil, err
	}
	if err := m.startDHT(); err != nil {
		return fail(err)
	}
	if err := m.startPubSub(); err != nil {
		return fail(err)
	}
	if m.topics, err = joinTopics(m); err != nil {
		return fail(err)
	}
	watch.attach(m)
	if cfg.mdns {
		m.mdns = mdns.NewMdnsService(h, "computemesh-"+cfg.network, mdnsNotifee{m})
		if err := m.mdns.Start(); err != nil {
			return fail(errorf("starting mDNS: %w", err))
		}
	}
	if cfg.peersFile != "" {
		m.addKnownPeers()
	}
	if len(m.cfg.bootstrap) > 0 {
		if err := m.connectBootstrap(ctx); err != nil {
			log.Warnw("bootstrap (will keep trying)", "err", err)
		}
	}
	if err := m.dht.Bootstrap(m.ctx); err != nil {
		return fail(errorf("bootstrapping DHT: %w", err))
	}
	m.wg.Add(1)
	go m.keepBootstrapped()
	return m, nil
}

// newConfig applies the options to the defaults and makes a key when none
// is given.
func newConfig(opts []Option) (config, error) {
	cfg := config{listen: LoopbackListen, network: DefaultNetwork, server: true,
		requestRate: DefaultRequestRate, requestBurst: DefaultRequestBurst, connsPerIP: DefaultConnsPerIP,
		gossipBidRate: DefaultGossipBidRate, requestLinger: DefaultRequestLinger}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return cfg, err
		}
	}
	if cfg.host != nil {
		return cfg, cfg.hostKey()
	}
	if cfg.key == nil {
		k, _, err := crypto.GenerateEd25519Key(rand.Reader)
		if err != nil {
			return cfg, errorf("generating key: %w", err)
		}
		cfg.key = k
	}
	return cfg, nil
}

// A node's connection manager keeps ConnsLow to ConnsHigh connections:
// past ConnsHigh it closes the least valued ones older than ConnsGrace down
// to ConnsLow, never those GossipSub (mesh peers) or the DHT (its nearest
// buckets) protect. Every connection it closes costs again when a DHT
// look-up (or a new node's routing table refresh) dials the peer: a new
// connection, identify, GossipSub's hello, the DHT's check of a new
// routing table peer. Trimming to 64 (rather than 192) opened 69,000
// connections while 100 providers joined a 500-node mesh in one process
// against 58,000 (1.6 cores busy against 1.3); lower marks (32 to 96) doubled
// the connections opened at 250 nodes (docs/ARCHITECTURE.md, Flood limits:
// Connections; docs/BENCHMARKS.md, 500 nodes in one process).
const (
	ConnsLow   = 192
	ConnsHigh  = 256
	ConnsGrace = time.Minute
)

// NewConnManager returns the connection manager of a node's host, for a
// host given with Host (a simulation's) to trim as a node's own would.
func NewConnManager() (*connmgr.BasicConnMgr, error) {
	cm, err := connmgr.NewConnManager(ConnsLow, ConnsHigh, connmgr.WithGracePeriod(ConnsGrace))
	if err != nil {
		return nil, errorf("connection manager: %w", err)
	}
	return cm, nil
}

// newHost starts the libp2p host: transports, security, resource and
// connection managers, NAT traversal.
func newHost(cfg *config, punch *punchTracer, watch *relayWatch) (host.Host, error) {
	cm, err := NewConnManager()
	if err != nil {
		return nil, err
	}
	metricsOpt := libp2p.DisableMetrics()
	if cfg.metrics != nil {
		metricsOpt = libp2p.PrometheusRegisterer(cfg.metrics)
	}
	transports, err := transportsOpt(cfg)
	if err != nil {
		return nil, err
	}
	rm, err := resourceManager(cfg)
	if err != nil {
		return nil, err
	}
	var made atomic.Pointer[host.Host]
	hostOf := func() host.Host {
		if p := made.Load(); p != nil {
			return *p
		}
		return nil
	}
	h, err := libp2p.New(
		metricsOpt,
		libp2p.Identity(cfg.key),
		listenOpt(cfg.listen),
		transports,
		libp2p.Security(noise.ID, noise.New),
		libp2p.Security(libp2ptls.ID, libp2ptls.New),
		libp2p.ResourceManager(rm),
		libp2p.ConnectionManager(cm),
		libp2p.SwarmOpts(swarm.WithDialRanker(preferTCP)),
		libp2p.ChainOptions(natOptions(cfg, punch, watch, hostOf)...),
		libp2p.EnableNATService(),
		libp2p.Ping(true),
		libp2p.UserAgent("computemesh/meshnode"),
	)
	if err != nil {
		rm.Close()
		return nil, errorf("starting libp2p host on %v: %w", cfg.listen, err)
	}
	made.Store(&h)
	return h, nil
}

// transportsOpt is TCP and QUIC, or TCP alone with an injected delay (and
// then only the TCP listen addresses).
func transportsOpt(cfg *config) (libp2p.Option, error) {
	if cfg.delay <= 0 {
		return libp2p.ChainOptions(libp2p.Transport(tcp.NewTCPTransport), libp2p.Transport(libp2pquic.NewTransport)), nil
	}
	// A delayed node speaks TCP only: listen on the TCP addresses.
	var tcpOnly []string
	for _, a := range cfg.listen {
		if strings.Contains(a, "/tcp/") {
			tcpOnly = append(tcpOnly, a)
		}
	}
	if len(tcpOnly) == 0 {
		return nil, errorf("delay: a delayed node speaks TCP only, and no listen address is TCP")
	}
	cfg.listen = tcpOnly
	return libp2p.Transport(delayedTCP(cfg.delay)), nil
}

// startDHT starts the Kademlia DHT of the network.
func (m *Mesh) startDHT() error {
	mode := dht.ModeServer
	if !m.cfg.server {
		mode = dht.ModeClient
	}
	var err error
	m.dht, err = dht.New(m.host,
		dht.Mode(mode),
		dht.ProtocolPrefix(protocol.ID("/computemesh/"+m.cfg.network)),
		dht.BootstrapPeers(m.cfg.bootstrap...),
		dht.Validator(record.NamespacedValidator{CapacityNamespace: m.capacityValidator()}),
	)
	if err != nil {
		return errorf("starting DHT: %w", err)
	}
	return nil
}

// peerQueue is the number of messages GossipSub queues for a peer.
const peerQueue = 256

// startPubSub starts GossipSub.
func (m *Mesh) startPubSub() error {
	var err error
	m.ps, err = pubsub.NewGossipSub(m.ctx, m.host,
		pubsub.WithMessageSigning(true),
		pubsub.WithStrictSignatureVerification(true),
		pubsub.WithFloodPublish(true),
		pubsub.WithPeerExchange(true),
		pubsub.WithMaxMessageSize(1<<20),
		// Requests and bids matter for a second or two and GossipSub's gossip
		// reaches back 3 s: remembering their IDs for 15 s (not the default
		// 2 min) keeps a busy node's memory small.
		pubsub.WithSeenMessagesTTL(seenTTL),
		// A client hears every bidder's answer at once: with the default
		// validation queue (32) an auction of 100 bidders lost up to half of
		// its bids (BenchmarkAuction).
		pubsub.WithValidateQueueSize(1024),
		// What goes to a peer waits in a queue that drops past its size
		// (default 32): a burst of a client's paced requests (up to the
		// burst, one message each without a linger) lost a few to its
		// provider on a busy machine.
		pubsub.WithPeerOutboundQueueSize(peerQueue),
		pubsub.WithPeerScore(scoreParams(&m.cfg, m.scoredTopics())),
		pubsub.WithPeerScoreInspect(pubsub.PeerScoreInspectFn(m.scores.inspect), scoreInspectPeriod),
	)
	if err != nil {
		return errorf("starting GossipSub: %w", err)
	}
	return nil
}

// addKnownPeers adds the peers of an earlier run to the bootstrap peers:
// dialled like them, so a node rejoins a formed mesh even when every
// bootstrap node is gone.
func (m *Mesh) addKnownPeers() {
	for _, ai := range loadKnownPeers(m.cfg.peersFile) {
		if ai.ID != m.host.ID() && !slices.ContainsFunc(m.cfg.bootstrap, func(b peer.AddrInfo) bool { return b.ID == ai.ID }) {
			m.cfg.bootstrap = append(m.cfg.bootstrap, ai)
		}
	}
}

// listenOpt listens on addrs; none means none (a node reachable only
// through relays), never libp2p's default of every interface.
func listenOpt(addrs []string) libp2p.Option {
	if len(addrs) == 0 {
		return libp2p.NoListenAddrs
	}
	return libp2p.ListenAddrStrings(addrs...)
}

// connectBootstrap dials every bootstrap peer in parallel and succeeds when
// at least one answers.
func (m *Mesh) connectBootstrap(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(m.cfg.bootstrap))
	for i, ai := range m.cfg.bootstrap {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := m.host.Connect(ctx, ai); err != nil {
				errs[i] = fmt.Errorf("bootstrap peer %s: %w", ai.ID, err)
			}
		}()
	}
	wg.Wait()
	var failed []error
	for _, err := range errs {
		if err != nil {
			failed = append(failed, err)
		}
	}
	if len(failed) == len(m.cfg.bootstrap) {
		return errorf("no bootstrap peer answered: %w", errors.Join(failed...))
	}
	return nil
}

// keepBootstrapped redials the bootstrap peers while the node has no peers.
func (m *Mesh) keepBootstrapped() {
	defer m.wg.Done()
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	save := time.NewTicker(time.Minute)
	defer save.Stop()
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-save.C:
			if err := m.saveKnownPeers(); err != nil {
				log.Debugw("saving the known peers", "err", err)
			}
		case <-t.C:
			if len(m.host.Network().Peers()) == 0 && len(m.cfg.bootstrap) > 0 {
				if err := m.connectBootstrap(m.ctx); err != nil {
					log.Debugw("bootstrap", "err", err)
				}
			}
		}
	}
}

// Close stops the node and waits for its goroutines.
func (m *Mesh) Close() error {
	var errs []error
	m.closeOnce.Do(func() {
		if err := m.saveKnownPeers(); err != nil {
			log.Warnw("saving the known peers", "err", err)
		}
		m.cancel()
		if m.mdns != nil {
			errs = append(errs, m.mdns.Close())
		}
		if m.topics != nil {
			m.topics.close()
		}
		if m.dht != nil {
			errs = append(errs, m.dht.Close())
		}
		errs = append(errs, m.host.Close())
		m.wg.Wait()
	})
	return errors.Join(errs...)
}

// Host returns the libp2p host.
func (m *Mesh) Host() host.Host { return m.host }

// DHT returns the Kademlia DHT.
func (m *Mesh) DHT() *dht.IpfsDHT { return m.dht }

// ID returns the node's peer ID.
func (m *Mesh) ID() peer.ID { return m.host.ID() }

// NetworkName returns the network this node belongs to.
func (m *Mesh) NetworkName() string { return m.cfg.network }

// Addrs returns the node's listen multiaddrs with /p2p/<peer ID>.
func (m *Mesh) Addrs() []ma.Multiaddr {
	ai := peer.AddrInfo{ID: m.host.ID(), Addrs: m.host.Addrs()}
	out, err := peer.AddrInfoToP2pAddrs(&ai)
	if err != nil {
		return nil
	}
	return out
}

// Protocol returns the ID of one of the network's stream protocols.
func (m *Mesh) Protocol(name string) protocol.ID {
	return protocol.ID("/computemesh/" + m.cfg.network + "/" + name + "/1.0.0")
}

// Connect dials a peer; one given without addresses that this node knows
// none of is looked up on the DHT first.
func (m *Mesh) Connect(ctx context.Context, ai peer.AddrInfo) error {
	if ai.ID == m.host.ID() {
		return nil
	}
	if len(ai.Addrs) == 0 && len(m.host.Peerstore().Addrs(ai.ID)) == 0 && m.host.Network().Connectedness(ai.ID) != network.Connected {
		// Known by its ID only (e.g. from its gossiped capacity record,
		// which a peer forwarded): its addresses are on the DHT.
		found, err := m.dht.FindPeer(ctx, ai.ID)
		if err != nil {
			return errorf("finding the addresses of %s: %w", ai.ID, err)
		}
		ai = found
	}
	return m.host.Connect(ctx, ai)
}

type mdnsNotifee struct{ m *Mesh }

func (n mdnsNotifee) HandlePeerFound(ai peer.AddrInfo) {
	ctx, cancel := context.WithTimeout(n.m.ctx, 10*time.Second)
	defer cancel()
	if err := n.m.Connect(ctx, ai); err != nil {
		log.Debugw("mDNS peer unreachable", "peer", ai.ID, "err", err)
	}
}
