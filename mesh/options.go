package mesh

import (
	"fmt"
	"net"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"
)

// DefaultNetwork is the network a node joins unless told otherwise.
const DefaultNetwork = "devnet"

// LoopbackListen are listen addresses on loopback with ports picked by the
// kernel: what tests, the demo and ephemeral clients use.
var LoopbackListen = []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"}

type config struct {
	key       crypto.PrivKey
	host      host.Host // given (Host); nil: the mesh starts its own
	listen    []string
	bootstrap []peer.AddrInfo
	network   string
	server    bool
	mdns      bool
	metrics   prometheus.Registerer
	peersFile string
	delay     time.Duration

	relayService *RelayLimit
	relays       []peer.AddrInfo
	reachability string

	requestRate      float64
	requestBurst     int
	colocation       int
	colocationExempt []*net.IPNet
	connsPerIP       int
	gossipBidRate    float64
	requestLinger    time.Duration
}

// Option configures a Mesh.
type Option func(*config) error

// Identity sets the node's key (default: a fresh Ed25519 key).
func Identity(k crypto.PrivKey) Option {
	return func(c *config) error { c.key = k; return nil }
}

// Listen sets the listen multiaddrs (default: LoopbackListen). With none,
// the node listens nowhere: it dials out and is reachable only through its
// Relays.
func Listen(addrs ...string) Option {
	return func(c *config) error {
		for _, a := range addrs {
			if _, err := ma.NewMultiaddr(a); err != nil {
				return errorf("listen address %q: %w", a, err)
			}
		}
		c.listen = addrs
		return nil
	}
}

// Bootstrap sets the peers dialled first (multiaddrs ending in /p2p/<id>).
func Bootstrap(addrs ...string) Option {
	return func(c *config) error {
		infos, err := ParseAddrInfos(addrs)
		if err != nil {
			return errorf("bootstrap %w", err)
		}
		c.bootstrap = infos
		return nil
	}
}

// Network sets the network name that prefixes protocols and topics.
func Network(name string) Option {
	return func(c *config) error {
		if name == "" || len(name) > 64 {
			return errorf("network name must be 1 to 64 bytes")
		}
		for _, r := range name {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
				return errorf("network name %q: only letters, digits, '-', '_' and '.' are allowed", name)
			}
		}
		c.network = name
		return nil
	}
}

// DHTServer sets whether the node serves the DHT (long-lived nodes) or only
// queries it (ephemeral clients). Default: server.
func DHTServer(on bool) Option {
	return func(c *config) error { c.server = on; return nil }
}

// MDNS enables local-network discovery by multicast DNS. Off by default:
// it multicasts on every interface.
func MDNS(on bool) Option {
	return func(c *config) error { c.mdns = on; return nil }
}

// Metrics registers libp2p's metrics with reg (default: none are kept).
func Metrics(reg prometheus.Registerer) Option {
	return func(c *config) error { c.metrics = reg; return nil }
}

// CheckOptions applies opts to a scratch configuration and returns the first
// error, so that a caller can tell bad settings from failures to start.
func CheckOptions(opts ...Option) error {
	var c config
	for _, o := range opts {
		if err := o(&c); err != nil {
			return err
		}
	}
	return nil
}

// ParseAddrInfos parses multiaddrs with /p2p/<id> into peer infos, merging
// addresses of one peer.
func ParseAddrInfos(addrs []string) ([]peer.AddrInfo, error) {
	var mas []ma.Multiaddr
	for _, a := range addrs {
		m, err := ma.NewMultiaddr(a)
		if err != nil {
			return nil, fmt.Errorf("address %q: %w", a, err)
		}
		mas = append(mas, m)
	}
	infos, err := peer.AddrInfosFromP2pAddrs(mas...)
	if err != nil {
		return nil, fmt.Errorf("addresses: %w (each must end in /p2p/<peer ID>)", err)
	}
	return infos, nil
}
