package node

import (
	"context"
	"fmt"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/mesh"
	"github.com/computemesh/computemesh/scheduler"
	"github.com/libp2p/go-libp2p/core/peer"
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

// holdBackups holds, once the attempt has run for half the grace, the bids
// of the backups that follow ranked[i], so that they still stand if the
// winner fails late. The returned func cancels it (the attempt ended).
func (n *Node) holdBackups(id string, ranked []scheduler.Option, i int) (stop func()) {
	backups := ranked[min(i+1, len(ranked)):min(i+1+awardBackups, len(ranked))]
	if len(backups) == 0 {
		return func() {}
	}
	providers := make([]string, len(backups))
	for k, o := range backups {
		providers[k] = o.Bid.Provider
	}
	t := time.AfterFunc(n.cfg.BidGrace/2, func() {
		for _, p := range providers {
			n.sendHold(id, p)
		}
	})
	return func() { t.Stop() }
}

// sendHold tells a provider to keep its bid for a job.
func (n *Node) sendHold(id, provider string) {
	p, err := peer.Decode(provider)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(n.ctx, 5*time.Second)
	defer cancel()
	s, err := n.mesh.Host().NewStream(ctx, p, n.mesh.Protocol(holdProto))
	if err != nil {
		log.Debugf("holding the bid of %s for job %s: %v", provider, id, err)
		return
	}
	defer s.Close()
	_ = s.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := mesh.WriteMsg(s, bidHold{V: job.Version, Job: id}); err != nil {
		log.Debugf("holding the bid of %s for job %s: %v", provider, id, err)
	}
}
