package provider

import (
	"bufio"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/mesh"
	"github.com/libp2p/go-libp2p/core/network"
)

// loserExpiry is when a bid for r stops standing unless its client holds
// it: the request's bid deadline (at most maxBidWindow ahead) plus the
// clock skew allowed and the grace.
func (p *Provider) loserExpiry(r *job.Request, now time.Time) time.Time {
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
	return by.Add(clockSkew + p.opts.BidGrace)
}

// expireBids forgets the bids whose time is up: losers soon after their
// window, held backups after their job's timeout.
func (p *Provider) expireBids() {
	every := min(10*time.Second, max(p.opts.BidGrace/4, 250*time.Millisecond))
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-t.C:
			p.bids.expire(p.now().UnixMilli())
		}
	}
}

// maxHoldMsg bounds a hold message.
const maxHoldMsg = 1 << 10

// handleHold keeps a bid its client names as a backup, until the job
// could have ended.
func (p *Provider) handleHold(s network.Stream) {
	defer s.Close()
	client := s.Conn().RemotePeer()
	_ = s.SetReadDeadline(time.Now().Add(10 * time.Second))
	var h job.Hold
	if err := mesh.ReadMsg(bufio.NewReader(s), maxHoldMsg, &h); err != nil {
		p.log.Debugw("reading a hold", "client", client, "err", err)
		return
	}
	if why := p.bids.hold(h.Job, client.String(), p.now()); why != "" {
		p.log.Debugw("hold refused", "job", h.Job, "client", client, "reason", why)
	}
}
