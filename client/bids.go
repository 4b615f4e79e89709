package client

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/computemesh/computemesh/internal/idref"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/scheduler"
	"github.com/libp2p/go-libp2p/core/peer"
)

// onBid routes a gossiped bid or decline to its auction.
func (c *Client) onBid(b *job.Bid, _ peer.ID) {
	c.mu.Lock()
	p := c.auctions[b.Job]
	c.mu.Unlock()
	if p == nil {
		// Another node's auction: its rates still tell the going rate.
		// (A GPU job's bid quotes a GPU rate; without the job, the model
		// is unknown.)
		c.observeBid(b, "", false)
		return
	}
	c.observeBid(b, p.gpuModel, p.gpuJob)
	// Noted before the offer: the offer that completes the auction lets
	// its evaluation start at once.
	p.answered(b.Provider, c.now())
	if !p.auction.Offer(*b) {
		return
	}
	e := job.Event{Kind: job.EventBid, Provider: b.Provider, Region: b.Region, Price: b.Price, Count: b.Queue}
	if b.Decline != "" {
		e.Kind, e.Decline, e.Message = job.EventDecline, b.Decline, string(b.Decline)+": "+b.Detail
	}
	p.emit(e)
}

// measureRTT pings the bidders whose RTT is not known yet.
func (c *Client) measureRTT(ctx context.Context, answers []job.Bid) {
	var wg sync.WaitGroup
	for _, b := range answers {
		if b.Decline != "" {
			continue
		}
		p, err := peer.Decode(b.Provider)
		if err != nil || c.mesh.RTT(p) > 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			pctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			_, _ = c.mesh.Ping(pctx, p)
		}()
	}
	wg.Wait()
}

// noBids explains an auction without a feasible bid, e.g.
// "no bids: 4 candidates, 0 matched (region eu-*, max price 0.1)".
func noBids(s *job.Spec, cands int, answers []job.Bid, rejected []scheduler.Rejection) string {
	var cons []string
	if s.Region != "" {
		cons = append(cons, "region "+s.Region)
	}
	if s.MaxPrice > 0 {
		cons = append(cons, "max price "+s.MaxPrice.String())
	}
	cons = append(cons, s.Resources.String())
	msg := fmt.Sprintf("no bids: %d candidates, %d answered, 0 matched (%s)", cands, len(answers), strings.Join(cons, ", "))
	reasons := map[string]int{}
	for _, r := range rejected {
		key := r.Reason
		if r.Bid.Decline != "" {
			key = "declined: " + string(r.Bid.Decline)
		}
		reasons[key]++
	}
	if len(reasons) > 0 {
		var parts []string
		for k, v := range reasons {
			parts = append(parts, fmt.Sprintf("%d %s", v, k))
		}
		sort.Strings(parts)
		msg += "; " + strings.Join(parts, ", ")
	}
	return msg
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// mustPeer decodes a peer ID that has already been validated.
func mustPeer(s string) peer.ID {
	p, _ := peer.Decode(s)
	return p
}

func short(id string) string { return idref.Short(id) }
