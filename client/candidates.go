package client

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/mesh"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Cache lifetimes of what a client learns through the DHT, and how long it
// waits for slow candidates.
const (
	lookupTTL = 10 * time.Second // providers of a capability key
	recordTTL = 30 * time.Second // a provider's verified capacity record (at most until it expires)
	// unreachableFor is how long a candidate that could not be reached is
	// left out of auctions (unless it turns up on the jobs topic): the DHT
	// keeps listing a provider that left for a long time (its provider
	// records live 48 h, its gossiped record until it expires). Each
	// further failure doubles it, up to maxUnreachableFor; and a candidate
	// that failed before is dialled again in the background only, so that
	// no auction waits for it (unreach).
	unreachableFor    = 30 * time.Second
	maxUnreachableFor = 10 * time.Minute
	// silentRounds is how many auctions in a row a connected candidate may
	// leave unanswered before the client pings it; a candidate that does
	// not answer the ping within silentPing is disconnected and left out
	// (a provider killed behind QUIC stays "connected" until the
	// connection's idle timeout, and every auction would wait out its
	// window for it).
	silentRounds = 2
	silentPing   = time.Second
	// candidateSettle is how long an auction waits for the candidates it
	// is still dialling once one is ready: a departed provider, whose dial
	// can take the whole dial timeout to fail, must not hold up every job
	// that long (and once it failed it is left out). Long enough for a
	// live provider's dial on a loaded machine or a far network (500 ms
	// was not: the docker testnet's smoke on a loaded machine lost the
	// cheapest provider from its first auctions). Connected candidates are
	// always waited for; the slow ones are still resolved, in the
	// background, for the next auction.
	candidateSettle = 2 * time.Second
)

type candidates struct {
	mu          sync.Mutex
	lookups     map[string]lookup
	records     map[peer.ID]recordEntry
	unreachable map[peer.ID]unreach // each candidate that failed to connect, until it connects
	// reached is when each candidate was last reached: one that was and is
	// no longer connected (it left, or was killed) is dialled again in
	// the background only, as is one whose dial is still under way.
	reached map[peer.ID]time.Time
	dialing map[peer.ID]bool
	silent  map[peer.ID]int // auctions in a row each candidate left unanswered (-1: being pinged)
}

// unreach is a candidate's failures to connect: the last one's time, and
// how many in a row.
type unreach struct {
	at    time.Time
	fails int
}

// leftOutFor is how long a candidate that failed fails times in a row is
// left out.
func leftOutFor(fails int) time.Duration {
	return min(unreachableFor<<min(max(fails-1, 0), 8), maxUnreachableFor)
}

type lookup struct {
	peers []peer.AddrInfo
	at    time.Time
}

type recordEntry struct {
	rec *job.Capacity
	err string
	at  time.Time
}

// candidates returns the providers this client expects to answer a job
// with need: those the DHT lists under the most specific capability key for
// it, plus those it hears of on the jobs topic (only providers subscribe
// there) and those whose gossiped record it holds (Heard), that it can
// reach. Their capacity records, fetched and verified, come along for
// ranking and for explaining a mismatch. Look-ups and records are cached
// (lookupTTL, recordTTL).
func (c *Client) candidates(ctx context.Context, need job.Need) (expected []peer.ID, records map[peer.ID]*job.Capacity) {
	key := capabilityFor(need)
	found := c.lookup(ctx, key)
	class := mesh.ClassCPU
	if need.GPUs > 0 || need.GPUModel != "" || need.MinVRAM > 0 {
		class = mesh.ClassGPU
	}
	found = addPeers(found, c.mesh.ClassPeers(class))
	found = addPeers(found, c.Heard(need))
	found = sampleCandidates(found, maxCandidates, func(p peer.ID) bool {
		return c.mesh.Host().Network().Connectedness(p) == network.Connected
	}, nil)
	results := make(chan resolved, len(found))
	var connected, dialing int
	for _, ai := range found {
		if ai.ID == c.mesh.ID() || c.leftOut(ai.ID) {
			continue
		}
		was := c.mesh.Host().Network().Connectedness(ai.ID) == network.Connected
		if !was && c.onProbation(ai.ID) { // dialled for the next auction, not waited for
			c.own.Go(func() { c.resolve(ai) })
			continue
		}
		// Owned, not bound to ctx: a candidate still resolving when the
		// auction goes on is resolved for the next one.
		if !c.own.Go(func() {
			rec, ok := c.resolve(ai)
			results <- resolved{ai.ID, rec, ok, was}
		}) {
			continue
		}
		if was {
			connected++
		} else {
			dialing++
		}
	}
	expected, records = collect(ctx, results, connected, dialing)
	slices.Sort(expected)
	c.waitSubscribed(ctx, expected, 2*time.Second)
	return expected, records
}

// resolved is what resolve found of a candidate.
type resolved struct {
	p         peer.ID
	rec       *job.Capacity
	ok        bool
	connected bool // it was connected when the auction began
}

// collect gathers the resolved candidates: every one that was connected
// (its record fetched, or not), and of those being dialled, the ones ready
// before candidateSettle after the first ready candidate; a departed
// provider's dial can take seconds to fail.
func collect(ctx context.Context, results <-chan resolved, connected, dialing int) ([]peer.ID, map[peer.ID]*job.Capacity) {
	var expected []peer.ID
	records := map[peer.ID]*job.Capacity{}
	var settle <-chan time.Time
	for connected > 0 || dialing > 0 {
		var r resolved
		select {
		case r = <-results:
		case <-settle:
			settle, dialing = nil, 0 // the rest resolve for the next auction
			continue
		case <-ctx.Done():
			return expected, records
		}
		if r.connected {
			connected--
		} else {
			dialing--
		}
		if !r.ok {
			continue
		}
		expected = append(expected, r.p)
		if r.rec != nil {
			records[r.p] = r.rec
		}
		if settle == nil && dialing > 0 {
			t := time.NewTimer(candidateSettle)
			defer t.Stop()
			settle = t.C
		}
	}
	return expected, records
}

// resolve fetches a candidate's capacity record and connects to it,
// reporting whether it could be reached (a failure leaves it out of
// auctions for unreachableFor).
func (c *Client) resolve(ai peer.AddrInfo) (*job.Capacity, bool) {
	// Dial first: a provider that left fails at once (its record, from
	// the DHT, would take a look-up to fetch first).
	if c.mesh.Host().Network().Connectedness(ai.ID) != network.Connected {
		if !c.startDial(ai.ID) {
			return nil, false // another auction's dial is under way
		}
		cctx, cancel := context.WithTimeout(c.ctx, 3*time.Second)
		err := c.mesh.Connect(cctx, ai)
		cancel()
		c.endDial(ai.ID)
		if err != nil {
			c.log.Debugw("candidate unreachable", "provider", ai.ID, "err", err)
			c.markUnreachable(ai.ID)
			return nil, false
		}
		c.own.Go(func() { c.pingOnce(ai.ID) })
	}
	c.cands.mu.Lock()
	delete(c.cands.unreachable, ai.ID)
	if c.cands.reached == nil || len(c.cands.reached) > 4096 {
		c.cands.reached = map[peer.ID]time.Time{}
	}
	c.cands.reached[ai.ID] = c.now()
	c.cands.mu.Unlock()
	return c.capacityOf(c.ctx, ai.ID), true
}

// onProbation reports whether candidate p, not connected, is dialled in
// the background only rather than waited for: its last dial failed, it
// was reached within reachedFor and is connected no more (a provider that
// left or was killed: the connection went with it), or a dial of it is
// still under way.
func (c *Client) onProbation(p peer.ID) bool {
	c.cands.mu.Lock()
	defer c.cands.mu.Unlock()
	_, failed := c.cands.unreachable[p]
	at, was := c.cands.reached[p]
	return failed || was && c.now().Sub(at) < reachedFor || c.cands.dialing[p]
}

// reachedFor is how long after it was last reached a candidate whose
// connection went counts as one that may have left (onProbation): a
// killed provider is noticed by the next auction; a live one whose idle
// connection a connection manager trimmed (after a minute's grace) is
// waited for as ever.
const reachedFor = 30 * time.Second

// startDial marks a dial of p as under way; false when one already is.
func (c *Client) startDial(p peer.ID) bool {
	c.cands.mu.Lock()
	defer c.cands.mu.Unlock()
	if c.cands.dialing[p] {
		return false
	}
	if c.cands.dialing == nil {
		c.cands.dialing = map[peer.ID]bool{}
	}
	c.cands.dialing[p] = true
	return true
}

func (c *Client) endDial(p peer.ID) {
	c.cands.mu.Lock()
	delete(c.cands.dialing, p)
	c.cands.mu.Unlock()
}

// noteSilent counts, for each expected candidate of an auction, whether it
// answered; one silent silentRounds auctions in a row is pinged in the
// background, and disconnected and left out for unreachableFor when the
// ping fails.
func (c *Client) noteSilent(expected []peer.ID, answered map[string]time.Time) {
	var ping []peer.ID
	c.cands.mu.Lock()
	if c.cands.silent == nil || len(c.cands.silent) > 4096 {
		c.cands.silent = map[peer.ID]int{}
	}
	for _, p := range expected {
		if _, ok := answered[p.String()]; ok {
			delete(c.cands.silent, p)
			continue
		}
		if n := c.cands.silent[p]; n >= 0 {
			c.cands.silent[p] = n + 1
			if n+1 >= silentRounds {
				c.cands.silent[p] = -1
				ping = append(ping, p)
			}
		}
	}
	c.cands.mu.Unlock()
	for _, p := range ping {
		c.own.Go(func() {
			ctx, cancel := context.WithTimeout(c.ctx, silentPing)
			_, err := c.mesh.Ping(ctx, p)
			cancel()
			c.cands.mu.Lock()
			delete(c.cands.silent, p)
			c.cands.mu.Unlock()
			if err != nil {
				c.markUnreachable(p)
			}
			if err != nil && c.ctx.Err() == nil {
				c.log.Infow("candidate left auctions unanswered and does not answer a ping: disconnected, left out", "provider", p, "auctions", silentRounds, "for", unreachableFor)
				_ = c.mesh.Host().Network().ClosePeer(p)
			}
		})
	}
}

// markUnreachable counts a failure to reach candidate p.
func (c *Client) markUnreachable(p peer.ID) {
	c.cands.mu.Lock()
	defer c.cands.mu.Unlock()
	if c.cands.unreachable == nil || len(c.cands.unreachable) > 4096 {
		c.cands.unreachable = map[peer.ID]unreach{}
	}
	u := c.cands.unreachable[p]
	c.cands.unreachable[p] = unreach{at: c.now(), fails: u.fails + 1}
}

// failedBefore reports whether candidate p's last attempt to connect failed.
func (c *Client) failedBefore(p peer.ID) bool {
	c.cands.mu.Lock()
	defer c.cands.mu.Unlock()
	_, ok := c.cands.unreachable[p]
	return ok
}

// leftOut reports whether candidate p failed to connect within the last
// leftOutFor its failures in a row, and is neither connected nor on the
// jobs topics since.
func (c *Client) leftOut(p peer.ID) bool {
	c.cands.mu.Lock()
	u, ok := c.cands.unreachable[p]
	c.cands.mu.Unlock()
	if !ok || c.now().Sub(u.at) >= leftOutFor(u.fails) {
		return false
	}
	if c.mesh.Host().Network().Connectedness(p) == network.Connected {
		return false
	}
	jobs, _ := c.mesh.TopicPeers()
	return !slices.Contains(jobs, p)
}

// lookup returns the providers of a capability key, from the cache when it
// is fresh. An empty result is not cached: the next job looks again.
func (c *Client) lookup(ctx context.Context, key string) []peer.AddrInfo {
	c.cands.mu.Lock()
	l, ok := c.cands.lookups[key]
	c.cands.mu.Unlock()
	if ok && time.Since(l.at) < lookupTTL {
		return slices.Clone(l.peers)
	}
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	found := c.mesh.FindProviders(lctx, key)
	cancel()
	if len(found) > 0 {
		c.cands.mu.Lock()
		if c.cands.lookups == nil {
			c.cands.lookups = map[string]lookup{}
		}
		c.cands.lookups[key] = lookup{peers: found, at: time.Now()}
		c.cands.mu.Unlock()
	}
	return found
}

// capacityOf returns a provider's verified capacity record, from the cache while
// it is fresh and unexpired; nil when it has none that verifies.
func (c *Client) capacityOf(ctx context.Context, p peer.ID) *job.Capacity {
	now := c.now()
	c.cands.mu.Lock()
	e, ok := c.cands.records[p]
	c.cands.mu.Unlock()
	if ok && now.Sub(e.at) < recordTTL && (e.rec == nil || now.UnixMilli() < e.rec.ExpiresMS) {
		return e.rec
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	rec, err := c.mesh.GetCapacity(rctx, p)
	cancel()
	e = recordEntry{rec: rec, at: now}
	if err != nil {
		e.err = err.Error()
		c.log.Debugw("reading a capacity record", "provider", p, "err", err)
	}
	c.cands.mu.Lock()
	if c.cands.records == nil {
		c.cands.records = map[peer.ID]recordEntry{}
	}
	// Bound the cache: forget the oldest half when it grows large.
	if len(c.cands.records) > 4096 {
		for k, v := range c.cands.records {
			if now.Sub(v.at) > recordTTL/2 {
				delete(c.cands.records, k)
			}
		}
	}
	c.cands.records[p] = e
	c.cands.mu.Unlock()
	return rec
}

// addPeers adds to found the peers of ps it does not list yet.
func addPeers(found []peer.AddrInfo, ps []peer.ID) []peer.AddrInfo {
	have := make(map[peer.ID]bool, len(found))
	for _, ai := range found {
		have[ai.ID] = true
	}
	for _, p := range ps {
		if !have[p] {
			have[p] = true
			found = append(found, peer.AddrInfo{ID: p})
		}
	}
	return found
}

// Heard returns the providers whose verified capacity record this client
// holds, unexpired, that can serve need: records gossiped on the capacity
// topic (a provider gossips its record as it starts, at a third of its
// lifetime and when what it has free changes; the topic's validator has
// checked the signature, the network and the expiry) or fetched from the
// DHT for an earlier job. A provider that has just started is heard of
// within moments of its first record, before its own DHT announcements
// (a look-up of the key's closest peers, then stores to them) are done and
// a look-up lists it, which on a busy mesh takes seconds. The record is
// the same signed statement the DHT would return; a provider that left is
// heard of until its record expires, as the DHT lists it until then.
func (c *Client) Heard(need job.Need) []peer.ID {
	now := c.now().UnixMilli()
	c.cands.mu.Lock()
	defer c.cands.mu.Unlock()
	var out []peer.ID
	for p, e := range c.cands.records {
		if e.rec != nil && now < e.rec.ExpiresMS && e.rec.Mismatch(need) == "" {
			out = append(out, p)
		}
	}
	return out
}

// onCapacity keeps the record cache current with gossiped records (already
// verified by the topic's validator): a newer sequence number replaces.
func (c *Client) onCapacity(rec *job.Capacity) {
	p, err := peer.Decode(rec.Peer)
	if err != nil {
		return
	}
	c.cands.mu.Lock()
	defer c.cands.mu.Unlock()
	if c.cands.records == nil {
		c.cands.records = map[peer.ID]recordEntry{}
	}
	if e, ok := c.cands.records[p]; ok && e.rec != nil && e.rec.Seq >= rec.Seq {
		return
	}
	if _, ok := c.cands.records[p]; !ok && len(c.cands.records) > 4096 {
		return // the cache is full: records the client looks up take precedence
	}
	c.cands.records[p] = recordEntry{rec: rec, at: c.now()}
	if e, ok := c.cands.unreachable[p]; ok && uint64(e.at.UnixNano()) < rec.Seq {
		delete(c.cands.unreachable, p) // a record signed since (its Seq is its time): it is back
	}
}

func (c *Client) pingOnce(p peer.ID) {
	if c.mesh.RTT(p) > 0 {
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, 2*time.Second)
	defer cancel()
	_, _ = c.mesh.Ping(ctx, p)
}

// waitSubscribed waits, at most max, until every peer in ps is known to be
// on the jobs topic, so that the request reaches them directly. (They learn
// of this node's bids subscription on the same stream before the request.)
func (c *Client) waitSubscribed(ctx context.Context, ps []peer.ID, max time.Duration) {
	deadline := time.Now().Add(max)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		jobs, _ := c.mesh.TopicPeers()
		all := true
		for _, p := range ps {
			// A peer reached only through a relay never joins this node's
			// topics (relayed connections carry no gossip): the request
			// reaches it through the relay nodes' gossip.
			if !slices.Contains(jobs, p) && c.mesh.ConnsTo(p).Direct > 0 {
				all = false
				break
			}
		}
		if all {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// rttOf returns the measured RTT to a provider given by its ID string.
func (c *Client) rttOf(provider string) time.Duration {
	p, err := peer.Decode(provider)
	if err != nil {
		return 0
	}
	return c.mesh.RTT(p)
}
