package node

import (
	"bufio"
	"fmt"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/mesh"
	"github.com/libp2p/go-libp2p/core/network"
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

// loserExpiry is when a bid for r stops standing unless its client holds
// it: the request's bid deadline (at most maxBidWindow ahead) plus the
// clock skew allowed and the grace.
func (n *Node) loserExpiry(r *job.Request, now time.Time) time.Time {
	by := now
	if r.BidByMS != 0 {
		by = time.UnixMilli(r.BidByMS)
		if limit := now.Add(maxBidWindow); by.After(limit) {
			by = limit
		}
		if by.Before(now) {
			by = now
		}
	}
	return by.Add(clockSkew + n.cfg.BidGrace)
}

// expireBids forgets the bids whose time is up: losers soon after their
// window, held backups after their job's timeout.
func (n *Node) expireBids() {
	every := min(10*time.Second, max(n.cfg.BidGrace/4, 250*time.Millisecond))
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case now := <-t.C:
			n.bids.expire(now.UnixMilli())
		}
	}
}

// StandingBids returns how many bids this provider keeps, and how many of
// them are held as backups.
func (n *Node) StandingBids() (total, held int) { return n.bids.size() }

// holdProto is the stream protocol on which a client holds a backup's bid.
const holdProto = job.ProtocolHold

// maxHoldMsg bounds a hold message.
const maxHoldMsg = 1 << 10

// bidHold asks a provider to keep its bid for a job: its client names it
// as a backup of the job's current attempt (the client role sends it).
type bidHold = job.Hold

// handleHold keeps a bid its client names as a backup, until the job
// could have ended.
func (n *Node) handleHold(s network.Stream) {
	defer s.Close()
	client := s.Conn().RemotePeer()
	_ = s.SetReadDeadline(time.Now().Add(10 * time.Second))
	var h bidHold
	if err := mesh.ReadMsg(bufio.NewReader(s), maxHoldMsg, &h); err != nil {
		log.Debugf("hold from %s: %v", client, err)
		return
	}
	if why := n.bids.hold(h.Job, client.String(), time.Now()); why != "" {
		log.Debugf("hold of job %s from %s: %s", h.Job, client, why)
	}
}
