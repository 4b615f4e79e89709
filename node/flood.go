package node

import (
	"fmt"
	"time"

	"github.com/computemesh/computemesh/mesh"
)

// checkFlood checks and defaults the flood limits of a configuration.
func (c *Config) checkFlood() error {
	if c.RequestRate < 0 || c.RequestBurst < 0 {
		return fmt.Errorf("request-rate, request-burst: negative")
	}
	if c.GossipBidRate < 0 {
		return fmt.Errorf("gossip-bid-rate: %v is negative", c.GossipBidRate)
	}
	if c.ConnsPerIP < 0 {
		return fmt.Errorf("conns-per-ip: %d is negative", c.ConnsPerIP)
	}
	if c.BidGrace < 0 || c.BidGrace > time.Hour {
		return fmt.Errorf("bid-grace: %v is out of range (0 to 1h)", c.BidGrace)
	}
	if c.BidGrace == 0 {
		c.BidGrace = DefaultBidGrace
	}
	return nil
}

// floodOptions are the mesh options of the node's flood limits.
func (c *Config) floodOptions() []mesh.Option {
	var opts []mesh.Option
	if c.RequestRate > 0 || c.RequestBurst > 0 {
		rate, burst := c.RequestRate, c.RequestBurst
		if rate == 0 {
			rate = mesh.DefaultRequestRate
		}
		if burst == 0 {
			burst = mesh.DefaultRequestBurst
		}
		opts = append(opts, mesh.RequestRate(rate, burst))
	}
	if c.GossipBidRate > 0 {
		opts = append(opts, mesh.GossipBidRate(c.GossipBidRate))
	}
	if c.ConnsPerIP > 0 {
		opts = append(opts, mesh.ConnsPerIP(c.ConnsPerIP))
	}
	return opts
}
