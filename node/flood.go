package node

import (
	"bufio"
	"context"
	"fmt"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/mesh"
	"github.com/computemesh/computemesh/scheduler"
	"github.com/libp2p/go-libp2p/core/network"
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
const holdProto = "hold"

// maxHoldMsg bounds a hold message.
const maxHoldMsg = 1 << 10

// bidHold asks a provider to keep its bid for a job: its client names it
// as a backup of the job's current attempt.
type bidHold struct {
	V   int    `json:"v"`
	Job string `json:"job"`
}

// Validate checks a hold.
func (h *bidHold) Validate() error {
	if h.V != job.Version {
		return fmt.Errorf("v: version %d, want %d", h.V, job.Version)
	}
	if _, err := job.ParseCID(h.Job); err != nil {
		return fmt.Errorf("job: %w", err)
	}
	return nil
}

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
