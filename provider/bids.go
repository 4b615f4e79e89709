package provider

import (
	"fmt"
	"sync"
	"time"

	"github.com/computemesh/computemesh/job"
)

// How long a provider keeps the bids it made. A losing bid stands for the
// request's bid window plus BidGrace; a bid its client names as a backup
// when it awards the job to another (a hold) stands until the job could
// have ended: its timeout plus heldGrace. The winner's is used up by its
// award.
const (
	// DefaultBidGrace is how long a bid stands beyond its request's bid
	// window unless it is held.
	DefaultBidGrace = 10 * time.Second
	// heldGrace is how long a held bid stands beyond the job's timeout:
	// long enough for a client to fall back on it when the winner dies at
	// the end of its run.
	heldGrace = 30 * time.Second
	// maxBidWindow caps how far ahead a request's bid deadline counts: a
	// request cannot keep bids standing by naming a far deadline.
	maxBidWindow = time.Minute
	// maxStanding bounds the bids a provider keeps at once (about 200 bytes
	// each); past it, it declines busy.
	maxStanding = 50_000
	// maxHeldPerClient bounds the held bids of one client.
	maxHeldPerClient = 4096
)

// standing is what a provider remembers of a bid it made, kept small: a
// busy provider holds one for every job it bid on until the bid expires.
type standing struct {
	client    string
	price     job.Credits
	rates     job.Rates
	expires   int64    // unix ms
	bidBy     int64    // the request's bid deadline, part of what it signed
	timeoutMS int64    // the job's timeout, for a hold
	req       [32]byte // digest of the request it answered
	held      bool     // a backup named by its client
}

// clientBids is what one client's standing bids commit here.
type clientBids struct {
	credits job.Credits // the sum of their prices
	count   int
	held    int
}

// bidBook is a provider's standing bids by job, with what each client's
// commit. Its maps are rebuilt when they shrink well below their peak, so
// that a flood's memory is given back once its bids expire.
type bidBook struct {
	mu       sync.Mutex
	bids     map[string]*standing
	byClient map[string]*clientBids
	peak     int
}

func newBidBook() *bidBook {
	return &bidBook{bids: map[string]*standing{}, byClient: map[string]*clientBids{}}
}

// get returns the standing bid for a job.
func (b *bidBook) get(id string) (standing, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, ok := b.bids[id]
	if !ok {
		return standing{}, false
	}
	return *s, true
}

// put keeps a bid for a job (replacing an earlier one for it) when the
// book has room and check, given the credits the client's other standing
// bids commit here, says ""; otherwise it returns the decline
// (job.DeclineBusy or job.DeclineFunds) and why.
func (b *bidBook) put(id string, s standing, check func(committed job.Credits) string) (decline job.DeclineReason, why string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	old, replacing := b.bids[id]
	if !replacing && len(b.bids) >= maxStanding {
		return job.DeclineBusy, fmt.Sprintf("busy: %d standing bids, the most this provider keeps", len(b.bids))
	}
	var committed job.Credits
	if c := b.byClient[s.client]; c != nil {
		committed = c.credits
		if replacing && old.client == s.client {
			committed -= old.price
		}
	}
	if why := check(committed); why != "" {
		return job.DeclineFunds, why
	}
	if replacing {
		b.removeLocked(id, old)
	}
	c := b.byClient[s.client]
	if c == nil {
		c = &clientBids{}
		b.byClient[s.client] = c
	}
	c.credits += s.price
	c.count++
	b.bids[id] = &s
	b.peak = max(b.peak, len(b.bids))
	return "", ""
}

// take removes and returns the standing bid for a job (one award per bid).
func (b *bidBook) take(id string) (standing, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, ok := b.bids[id]
	if !ok {
		return standing{}, false
	}
	b.removeLocked(id, s)
	return *s, true
}

// hold keeps client's bid for a job until the job could have ended, and
// reports why it does not ("" when it does).
func (b *bidBook) hold(id, client string, now time.Time) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, ok := b.bids[id]
	switch {
	case !ok:
		return "no standing bid for job " + id
	case s.client != client:
		return "the bid for job " + id + " was made to another client"
	case s.held:
		return ""
	}
	c := b.byClient[client]
	if c.held >= maxHeldPerClient {
		return "too many held bids of this client"
	}
	c.held++
	s.held = true
	s.expires = max(s.expires, now.Add(time.Duration(s.timeoutMS)*time.Millisecond+heldGrace).UnixMilli())
	return ""
}

func (b *bidBook) removeLocked(id string, s *standing) {
	delete(b.bids, id)
	c := b.byClient[s.client]
	if c == nil {
		return
	}
	c.credits -= s.price
	c.count--
	if s.held {
		c.held--
	}
	if c.count <= 0 {
		delete(b.byClient, s.client)
	}
}

// expire forgets the bids whose time is up, and returns how many remain.
func (b *bidBook) expire(nowMS int64) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	for id, s := range b.bids {
		if nowMS > s.expires {
			b.removeLocked(id, s)
		}
	}
	// A map keeps its largest size: rebuild it once it is a quarter full.
	if b.peak > 1024 && len(b.bids) < b.peak/4 {
		bids := make(map[string]*standing, len(b.bids))
		for id, s := range b.bids {
			bids[id] = s
		}
		clients := make(map[string]*clientBids, len(b.byClient))
		for k, c := range b.byClient {
			clients[k] = c
		}
		b.bids, b.byClient, b.peak = bids, clients, len(bids)
	}
	return len(b.bids)
}

// size returns the number of standing bids and of those held.
func (b *bidBook) size() (total, held int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.byClient {
		held += c.held
	}
	return len(b.bids), held
}

// committed returns what a client's standing bids commit here, and how
// many they are.
func (b *bidBook) committed(client string) (job.Credits, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if c := b.byClient[client]; c != nil {
		return c.credits, c.count
	}
	return 0, 0
}
