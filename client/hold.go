package client

import (
	"context"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/mesh"
	"github.com/computemesh/computemesh/scheduler"
	"github.com/libp2p/go-libp2p/core/peer"
)

// awardBackups is how many runners-up a client holds when it awards.
const awardBackups = 2

// holdBackups holds, once the attempt has run for half the grace, the bids
// of the backups that follow ranked[i], so that they still stand if the
// winner fails late. The returned func cancels it (the attempt ended).
func (c *Client) holdBackups(id string, ranked []scheduler.Option, i int) (stop func()) {
	backups := ranked[min(i+1, len(ranked)):min(i+1+awardBackups, len(ranked))]
	if len(backups) == 0 {
		return func() {}
	}
	providers := make([]string, len(backups))
	for k, o := range backups {
		providers[k] = o.Bid.Provider
	}
	t := time.AfterFunc(c.cfg.BidGrace/2, func() {
		for _, p := range providers {
			c.sendHold(id, p)
		}
	})
	return func() { t.Stop() }
}

// sendHold tells a provider to keep its bid for a job.
func (c *Client) sendHold(id, provider string) {
	p, err := peer.Decode(provider)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
	defer cancel()
	s, err := c.mesh.Host().NewStream(ctx, p, c.mesh.Protocol(job.ProtocolHold))
	if err != nil {
		c.log.Debugw("holding a bid", "job", id, "provider", provider, "err", err)
		return
	}
	defer s.Close()
	_ = s.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := mesh.WriteMsg(s, job.Hold{V: job.Version, Job: id}); err != nil {
		c.log.Debugw("holding a bid", "job", id, "provider", provider, "err", err)
	}
}
