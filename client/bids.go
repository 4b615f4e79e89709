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
	// Noted before the offer: the offer that completes the auction lets
	// its evaluation start at once. A provider's market sample arrives
	// twice (on its stream and by gossip): the market view counts it once.
	if p.answered(b.Provider, c.now()) {
		c.observeBid(b, p.gpuModel, p.gpuJob)
	}
	if !p.auction.Offer(*b) {
		return
	}
	e := job.Event{Kind: job.EventBid, Provider: b.Provider, Region: b.Region, Price: b.Price, Count: b.Queue, Carbon: b.Carbon}
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
// "no bids: 4 candidates, 2 answered, 0 matched (region eu-*, max price
// 0.1, 1 cpu, 64MiB); 2 declined: price (price 0.2 over max 0.1): raise
// --max-price". Each reason is counted, with one provider's detail and
// what the submitter can do about it.
func noBids(s *job.Spec, cands int, answers []job.Bid, rejected []scheduler.Rejection) string {
	var cons []string
	if s.Region != "" {
		cons = append(cons, "region "+s.Region)
	}
	if s.MaxPrice > 0 {
		cons = append(cons, "max price "+s.MaxPrice.String())
	}
	if s.MaxCarbon > 0 {
		cons = append(cons, "max carbon "+s.MaxCarbon.String())
	}
	cons = append(cons, s.Resources.String())
	msg := fmt.Sprintf("no bids: %d candidates, %d answered, 0 matched (%s)", cands, len(answers), strings.Join(cons, ", "))
	type reason struct {
		n      int
		detail string
		code   job.DeclineReason
		reject job.RejectReason
	}
	reasons := map[string]*reason{}
	for _, r := range rejected {
		key, detail := r.Reason, ""
		if r.Bid.Decline != "" {
			key, detail = "declined: "+string(r.Bid.Decline), r.Bid.Detail
		}
		if reasons[key] == nil {
			reasons[key] = &reason{detail: detail, code: r.Bid.Decline, reject: r.Code}
		}
		reasons[key].n++
	}
	if len(reasons) == 0 {
		return msg
	}
	parts := make([]string, 0, len(reasons))
	for k, r := range reasons {
		part := fmt.Sprintf("%d %s", r.n, k)
		if r.detail != "" && !strings.Contains(k, r.detail) {
			part += " (" + r.detail + ")"
		}
		if hint := declineHint(r.code); hint != "" {
			part += ": " + hint
		} else if r.reject == job.RejectMaxCarbon {
			part += ": raise --max-carbon, or give --deadline for a greener hour"
		}
		parts = append(parts, part)
	}
	sort.Strings(parts)
	return msg + "; " + strings.Join(parts, "; ")
}

// declineHint says what a submitter can do about a decline.
func declineHint(code job.DeclineReason) string {
	switch code {
	case job.DeclineFunds:
		return "the provider's ledger holds too little of your credit for its price (meshnode credits shows your balance; on a test network meshnode grant gives some)"
	case job.DeclinePrice:
		return "raise --max-price, or leave it out"
	case job.DeclineRegion:
		return "widen --region or drop a --not-region"
	case job.DeclineResources:
		return "ask for less (--cpus, --memory, --gpus, --disk)"
	case job.DeclineBusy:
		return "try again later, or give --deadline to wait for a free provider"
	case job.DeclineImage:
		return "the providers do not hold the image: pull it on a provider, or ask its owner"
	case job.DeclineExecutor:
		return "no provider here offers that executor"
	case job.DeclineNetwork:
		return "the providers' owners do not allow network access: drop the job's network need"
	case job.DeclineURLInputs:
		return "the providers' owners do not fetch inputs from URLs (start --allow-url-inputs): add the data with meshnode add and give its CID"
	case job.DeclineCommand:
		return "the command is not on the providers' allowlists"
	case job.DeclineClient:
		return "the providers' owners do not serve this client"
	}
	return ""
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// mustPeer decodes a peer ID that has already been validated.
func mustPeer(s string) peer.ID {
	p, _ := peer.Decode(s)
	return p
}

func short(id string) string { return idref.Short(id) }
