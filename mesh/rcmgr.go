package mesh

import (
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/network"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
)

// DefaultConnsPerIP is how many connections the resource manager accepts
// from one IPv4 address (or IPv6 /56) at once; loopback is not limited.
const DefaultConnsPerIP = 8

// ConnsPerIP sets how many connections the resource manager accepts from
// one IPv4 address or IPv6 /56 (eight times as many from a /48); loopback
// is never limited. Default: DefaultConnsPerIP.
func ConnsPerIP(n int) Option {
	return func(c *config) error {
		if n < 1 || n > 1<<16 {
			return errorf("connections per IP %d: must be 1 to 65536", n)
		}
		c.connsPerIP = n
		return nil
	}
}

// resourceManager is libp2p's default resource manager (limits scaled to
// the machine's memory and file descriptors, per peer, per protocol and in
// all) with the per-IP connection limit of c.
func resourceManager(c *config) (network.ResourceManager, error) {
	limits := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&limits)
	n := c.connsPerIP
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(limits.AutoScale()),
		rcmgr.WithLimitPerSubnet(
			[]rcmgr.ConnLimitPerSubnet{{PrefixLength: 32, ConnCount: n}},
			[]rcmgr.ConnLimitPerSubnet{{PrefixLength: 56, ConnCount: n}, {PrefixLength: 48, ConnCount: 8 * n}},
		))
	if err != nil {
		return nil, errorf("resource manager: %w", err)
	}
	return rm, nil
}
