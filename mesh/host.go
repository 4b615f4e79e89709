package mesh

import "github.com/libp2p/go-libp2p/core/host"

// Host builds the mesh on h instead of starting a libp2p host of its own:
// for simulations of many nodes in one process (libp2p's mocknet). The
// node's key is h's, which h's peerstore must hold (an Identity, if given
// too, must be the same key). Listen, Delay, Metrics, ConnsPerIP and the
// relay and NAT options configure the host the mesh would start: with h
// they do not apply. The mesh owns h from then on: Close closes it.
func Host(h host.Host) Option {
	return func(c *config) error {
		if h == nil {
			return errorf("host: nil")
		}
		c.host = h
		return nil
	}
}

// hostKey makes a given host's key the node's key.
func (c *config) hostKey() error {
	k := c.host.Peerstore().PrivKey(c.host.ID())
	if k == nil {
		return errorf("host %s: its peerstore holds no private key", c.host.ID())
	}
	if c.key != nil && !c.key.Equals(k) {
		return errorf("host %s: the identity given is not the host's key", c.host.ID())
	}
	c.key = k
	return nil
}
