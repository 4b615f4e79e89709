package mesh

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Defaults of the per-author limit on job requests. An honest client
// submitting 300 jobs/s stays well under them.
const (
	DefaultRequestRate  = 500.0 // job requests per second, per author
	DefaultRequestBurst = 1000  // job requests an author may send at once
	// maxAuthors bounds the authors whose buckets are remembered: past it,
	// full (idle) buckets are forgotten first, then arbitrary ones.
	maxAuthors = 16384
)

// authorLimiter is a token bucket per author (the signing peer of a
// message) in a bounded map. A forgotten author starts again with a full
// bucket, as a new one does.
type authorLimiter struct {
	rate  float64 // tokens per second
	burst float64

	mu      sync.Mutex
	buckets map[peer.ID]*bucket
	over    atomic.Int64 // messages refused for being over the rate
}

type bucket struct {
	tokens float64
	last   int64 // unix ns of the last refill
}

func newAuthorLimiter(rate float64, burst int) *authorLimiter {
	return &authorLimiter{rate: rate, burst: float64(burst), buckets: map[peer.ID]*bucket{}}
}

// allow takes a token from author's bucket, reporting false (and counting
// it) when there is none.
func (l *authorLimiter) allow(author peer.ID, now time.Time) bool { return l.allowN(author, 1, now) }

// allowN takes n tokens from author's bucket, or none, reporting false (and
// counting it) when there are fewer than n (a message of more requests than
// the burst needs a full bucket and empties it).
func (l *authorLimiter) allowN(author peer.ID, n int, now time.Time) bool {
	ns := now.UnixNano()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[author]
	if !ok {
		if len(l.buckets) >= maxAuthors {
			l.evictLocked(ns)
		}
		b = &bucket{tokens: l.burst, last: ns}
		l.buckets[author] = b
	} else if ns > b.last {
		b.tokens = min(l.burst, b.tokens+float64(ns-b.last)/1e9*l.rate)
		b.last = ns
	}
	need := min(float64(n), l.burst)
	if b.tokens < need {
		l.over.Add(1)
		return false
	}
	b.tokens -= need
	return true
}

// pacer is a node's own sending bucket for its job requests (paced): the
// rate of its peers' per-author buckets, a burst smaller by a headroom.
// Tokens are taken before a message is published, one caller at a time in
// turn, the turn held until the message is published, so its peers'
// buckets for it — same rate, the whole burst, fed the same requests in
// the same order a little later, bunched only by a stall of the link,
// which refills them as long — keep at least the headroom: they never run
// dry.
type pacer struct {
	rate, burst float64
	turn        chan struct{} // held by the caller being served
	tokens      float64
	last        time.Time
}

// newPacer paces to rate with burst, less headroom (a tenth of the burst,
// at most 100 requests: a fifth of a second at the default rate).
func newPacer(rate float64, burst int) *pacer {
	b := max(float64(burst)-min(float64(burst)/10, 100), 1)
	p := &pacer{rate: rate, burst: b, turn: make(chan struct{}, 1), tokens: b}
	return p
}

// take waits for its turn and for n tokens (at most the burst: a larger
// message waits for a full bucket and empties it) and takes them; it
// returns with the turn held, and the caller calls done once its message
// is published. So messages leave in the order, and at the pace, their
// tokens were taken: a caller descheduled between the two (32 callers at
// once under the race detector on a loaded machine) had its message reach
// the peers bunched with later ones, and past the headroom they ignored
// some.
func (p *pacer) take(ctx context.Context, n int) (done func(), err error) {
	select {
	case p.turn <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	done = func() { <-p.turn }
	need := min(float64(n), p.burst)
	for {
		now := time.Now()
		if !p.last.IsZero() {
			p.tokens = min(p.burst, p.tokens+now.Sub(p.last).Seconds()*p.rate)
		}
		p.last = now
		if p.tokens >= need {
			p.tokens -= need
			return done, nil
		}
		t := time.NewTimer(time.Duration((need - p.tokens) / p.rate * float64(time.Second)))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			done()
			return nil, ctx.Err()
		}
	}
}

// evictLocked makes room: it forgets every bucket that has refilled (its
// author is idle, and would start full anyway), and when none has, a
// quarter of the map. The map is rebuilt, so that its memory goes too.
func (l *authorLimiter) evictLocked(ns int64) {
	kept := make(map[peer.ID]*bucket, len(l.buckets)/2)
	drop := len(l.buckets) / 4
	for id, b := range l.buckets {
		if b.tokens+float64(ns-b.last)/1e9*l.rate >= l.burst {
			continue
		}
		if len(kept) < len(l.buckets)-drop {
			kept[id] = b
		}
	}
	l.buckets = kept
}

// size returns the number of authors remembered.
func (l *authorLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// GossipBidRate sets how many bids a second a provider gossips to clients
// it has no connection to (it sends a connected client's on a stream);
// past it, it does not answer such requests. Default: DefaultGossipBidRate.
func GossipBidRate(rate float64) Option {
	return func(c *config) error {
		if !(rate > 0) || rate > 1e6 {
			return errorf("gossip bid rate %v per second: must be above 0 and at most 1e6", rate)
		}
		c.gossipBidRate = rate
		return nil
	}
}

// RequestRate sets the per-author limit on job requests: a node relays and
// handles at most rate requests per second (burst at once) signed by one
// peer, and ignores the rest without penalising whoever forwarded them.
// Default: DefaultRequestRate, DefaultRequestBurst.
func RequestRate(rate float64, burst int) Option {
	return func(c *config) error {
		if !(rate > 0) || rate > 1e6 {
			return errorf("request rate %v per author per second: must be above 0 and at most 1e6", rate)
		}
		if burst < 1 || burst > 1e7 {
			return errorf("request burst %d: must be 1 to 10000000", burst)
		}
		c.requestRate, c.requestBurst = rate, burst
		return nil
	}
}
