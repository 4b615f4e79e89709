package mesh

import (
	"bufio"
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	msmux "github.com/multiformats/go-multistream"
)

// A bid matters to one node, the client that asked. Gossiped, every node of
// the network verifies it (a signature check each), so that one request
// flooded to N providers costs every bystander N verifications. So a
// provider connected to the client sends it the bid on a stream of the bid
// protocol (authenticated by the connection: no signature), and gossips
// only what it cannot send that way (a client it has no connection to, or
// one it cannot open a stream to, within GossipBidRate) and, besides
// sending it, a sample of one bid a second (less often in a large network:
// sampleInterval), from which every node learns the going rates. A connected
// peer that does not speak the bid protocol is not waiting for bids (every
// node that submits jobs serves it): its requests get no bids at all, so a
// flood of requests from a bare GossipSub peer makes no node verify a
// single answer.
const (
	bidProto = "bids"
	// bidQueue bounds the bids waiting for one client's stream.
	bidQueue = 1024
	// bidIdle is how long a client's bid stream stays open unused.
	bidIdle = 30 * time.Second
	// marketSample is how often a provider gossips one of its bids anyway,
	// in a network where it knows of at most sampleProviders providers;
	// one that knows of more gossips proportionally less often, so that a
	// network's samples (each verified by every node) stay about
	// sampleProviders a second while a provider knows of most providers
	// (N/16 a second in a network far larger than its connections): at
	// 500 nodes in one process, where every
	// provider bid less than once a second, every bid was a sample, and
	// 9,740 bids for 10 jobs were verified by all 500 nodes.
	marketSample    = time.Second
	sampleProviders = 16
	// noDirectFor is how long a client that a stream could not be opened
	// to gets its bids by gossip, or one that does not speak the bid
	// protocol gets none.
	noDirectFor = time.Minute
	// DefaultGossipBidRate is how many bids a second a provider gossips to
	// clients it has no connection to, and gossipBidBurst how many at once.
	// A client finds its candidates through the DHT and is connected to
	// them when it asks, so gossip is the exception (a client that cannot
	// be reached directly); each gossiped bid costs every node of the
	// network a verification.
	DefaultGossipBidRate = 25.0
	gossipBidBurst       = 100
)

// ErrBidShed reports a bid neither sent nor gossiped: the client's stream
// was backed up, the client does not speak the bid protocol, or the
// provider's budget of gossiped bids was spent.
var ErrBidShed = errors.New("mesh: bid shed")

// BidCounts counts how a provider's bids went out.
type BidCounts struct {
	Direct   atomic.Int64 // on the client's stream
	Gossiped atomic.Int64 // on the bids topic (samples, unconnected clients, fallbacks)
	Shed     atomic.Int64 // not sent (see ErrBidShed)
	Refused  atomic.Int64 // of Shed: to clients that do not speak the bid protocol
	// Of Shed: to clients not connected, whose requests asked only the
	// providers connected to them (job.Request.GossipBids false).
	Unconnected atomic.Int64
	// Of the bids put on a client's stream, those gossiped besides as
	// market samples (not in Gossiped: Direct, Gossiped and Shed count
	// each bid once).
	Samples atomic.Int64
}

// bidSender keeps one stream, and a goroutine writing it, per client.
type bidSender struct {
	m      *Mesh
	counts BidCounts

	mu         sync.Mutex
	outs       map[peer.ID]*bidOut
	noDirect   map[peer.ID]noDirect // clients no stream could be opened to lately
	gossip     bucket
	nextSample time.Time // when a bid may be the next market sample
}

// bidOut is the queue of one client's bids.
type bidOut struct {
	q chan *job.Bid
}

// noDirect is why, and until when, a client gets no bids on a stream.
type noDirect struct {
	until   time.Time
	refused bool // it does not speak the bid protocol: no bids at all
}

// maxNoDirect bounds the clients remembered as getting no stream.
const maxNoDirect = 4096

func newBidSender(m *Mesh) *bidSender {
	return &bidSender{m: m, outs: map[peer.ID]*bidOut{}, noDirect: map[peer.ID]noDirect{},
		gossip: bucket{tokens: gossipBidBurst, last: time.Now().UnixNano()}}
}

// directLocked says whether client may get its bids on a stream (no
// stream failed to open lately), and if not, whether it refused the bid
// protocol.
func (s *bidSender) directLocked(client peer.ID, now time.Time) (direct, refused bool) {
	nd, ok := s.noDirect[client]
	if ok && now.After(nd.until) {
		delete(s.noDirect, client)
		return true, false
	}
	return !ok, nd.refused
}

// noStream remembers that no stream could be opened to client, because
// it refused the bid protocol or otherwise.
func (s *bidSender) noStream(client peer.ID, refused bool) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.noDirect) >= maxNoDirect {
		kept := make(map[peer.ID]noDirect, len(s.noDirect)/2)
		for p, nd := range s.noDirect {
			if nd.until.After(now) && len(kept) < maxNoDirect/2 {
				kept[p] = nd
			}
		}
		s.noDirect = kept
	}
	s.noDirect[client] = noDirect{until: now.Add(noDirectFor), refused: refused}
}

// SendBid sends a bid or decline to client, the author of the request it
// answers: on the bid protocol when this node is connected to it, by gossip
// otherwise (within GossipBidRate), not at all to a connected client that
// refused the bid protocol; a bid that is the market sample due
// (sampleDue) is gossiped besides. Whether to answer a client this node is
// not connected to at all is TakesBids's call. It returns ErrBidShed when
// the bid went nowhere.
func (m *Mesh) SendBid(ctx context.Context, b *job.Bid, client peer.ID) error {
	s := m.bidSend
	if client == m.host.ID() {
		m.topics.deliverBid(b, client)
		return nil
	}
	now := time.Now()
	connected := m.host.Network().Connectedness(client) == network.Connected
	sample := b.Decline == "" && m.sampleDue(now) // the going rates are bids' prices
	s.mu.Lock()
	direct, refused := s.directLocked(client, now)
	if !connected || !direct {
		ok := sample || (!refused && s.takeGossipLocked(now))
		s.mu.Unlock()
		if !ok {
			if refused {
				s.counts.Refused.Add(1)
			}
			s.counts.Shed.Add(1)
			return ErrBidShed
		}
		s.counts.Gossiped.Add(1)
		return m.PublishBid(ctx, b)
	}
	out := s.outs[client]
	if out == nil {
		out = &bidOut{q: make(chan *job.Bid, bidQueue)}
		s.outs[client] = out
		m.wg.Add(1)
		go s.run(client, out)
	}
	s.mu.Unlock()
	select {
	case out.q <- b:
	default:
		s.counts.Shed.Add(1)
		return ErrBidShed
	}
	if sample { // besides going on the client's stream
		s.counts.Samples.Add(1)
		if err := m.PublishBid(ctx, b); err != nil {
			log.Debugw("gossiping a market sample", "job", b.Job, "err", err)
		}
	}
	return nil
}

// sampleInterval is how often a provider that knows of known providers
// gossips a market sample.
func sampleInterval(known int) time.Duration {
	if known <= sampleProviders {
		return marketSample
	}
	return marketSample * time.Duration(known) / sampleProviders
}

// sampleDue reports whether the bid being sent now is the market sample
// due, and if so sets when the next one is: marketSample later, times the
// providers this node knows of on the jobs topic over sampleProviders (the
// topic's peers are counted once a sample, not for every bid).
func (m *Mesh) sampleDue(now time.Time) bool {
	s := m.bidSend
	s.mu.Lock()
	due := !now.Before(s.nextSample)
	if due {
		s.nextSample = now.Add(marketSample) // until the count below
	}
	s.mu.Unlock()
	if !due {
		return false
	}
	next := now.Add(sampleInterval(len(m.topics.jobs.ListPeers())))
	s.mu.Lock()
	s.nextSample = next
	s.mu.Unlock()
	return true
}

// TakesBids says whether client may be sent an answer to its request: not
// while it is a connected peer that refused the bid protocol (for a minute
// after the refusal), so that a provider spends nothing on its requests;
// and, unless gossip (the request's GossipBids), not when this node has no
// connection to it: the client asks the candidates it is connected to, and
// an answer by gossip would cost every node of the network a signature
// check. Each false counts as a shed bid in BidCounts (and as Refused or
// Unconnected).
func (m *Mesh) TakesBids(client peer.ID, gossip bool) bool {
	s := m.bidSend
	if !gossip && m.host.Network().Connectedness(client) == network.NotConnected {
		s.counts.Unconnected.Add(1)
		s.counts.Shed.Add(1)
		return false
	}
	s.mu.Lock()
	_, refused := s.directLocked(client, time.Now())
	s.mu.Unlock()
	if refused {
		s.counts.Refused.Add(1)
		s.counts.Shed.Add(1)
	}
	return !refused
}

// takeGossipLocked takes a token of the gossiped-bid budget.
func (s *bidSender) takeGossipLocked(now time.Time) bool {
	ns := now.UnixNano()
	if ns > s.gossip.last {
		s.gossip.tokens = min(gossipBidBurst, s.gossip.tokens+float64(ns-s.gossip.last)/1e9*s.m.cfg.gossipBidRate)
		s.gossip.last = ns
	}
	if s.gossip.tokens < 1 {
		return false
	}
	s.gossip.tokens--
	return true
}

// BidCounts returns the counters of this node's outgoing bids.
func (m *Mesh) BidCounts() *BidCounts { return &m.bidSend.counts }

// run writes client's bids on one stream until it has been idle for
// bidIdle, falling back on gossip for a bid it cannot write.
func (s *bidSender) run(client peer.ID, out *bidOut) {
	defer s.m.wg.Done()
	var st network.Stream
	var w *bufio.Writer
	closeStream := func(reset bool) {
		if st != nil {
			if reset {
				_ = st.Reset()
			} else {
				_ = st.Close()
			}
			st, w = nil, nil
		}
	}
	idle := time.NewTimer(bidIdle)
	defer idle.Stop()
	for {
		select {
		case <-s.m.ctx.Done():
			closeStream(true)
			return
		case <-idle.C:
			s.mu.Lock()
			if len(out.q) == 0 {
				delete(s.outs, client)
				s.mu.Unlock()
				closeStream(false)
				return
			}
			s.mu.Unlock()
			idle.Reset(bidIdle)
		case b := <-out.q:
			batch := []*job.Bid{b}
			for len(batch) < 64 && len(out.q) > 0 {
				batch = append(batch, <-out.q)
			}
			refused := false
			if st == nil {
				st, w, refused = s.open(client)
			}
			switch {
			case refused:
				s.counts.Shed.Add(int64(len(batch)))
				s.counts.Refused.Add(int64(len(batch)))
			case st != nil && s.write(st, w, batch):
				s.counts.Direct.Add(int64(len(batch)))
			default:
				closeStream(true)
				s.fallback(batch)
			}
			idle.Reset(bidIdle)
		}
	}
}

// open opens a bid stream to client, or marks it as one to gossip to
// (refused false) or to send nothing to (refused true: it does not speak
// the bid protocol).
func (s *bidSender) open(client peer.ID) (st network.Stream, w *bufio.Writer, refused bool) {
	ctx, cancel := context.WithTimeout(s.m.ctx, 5*time.Second)
	defer cancel()
	st, err := s.m.host.NewStream(ctx, client, s.m.Protocol(bidProto))
	if err != nil {
		refused = errors.Is(err, msmux.ErrNotSupported[protocol.ID]{})
		if refused {
			log.Debugw("bid stream refused: sending the client no bids for a while", "client", client, "for", noDirectFor, "err", err)
		} else {
			log.Debugw("bid stream failed: gossiping the client's bids for a while", "client", client, "for", noDirectFor, "err", err)
		}
		s.noStream(client, refused)
		return nil, nil, refused
	}
	return st, bufio.NewWriter(st), false
}

// write writes a batch of bids and flushes it.
func (s *bidSender) write(st network.Stream, w *bufio.Writer, batch []*job.Bid) bool {
	_ = st.SetWriteDeadline(time.Now().Add(5 * time.Second))
	for _, b := range batch {
		if err := WriteMsg(w, b); err != nil {
			return false
		}
	}
	if err := w.Flush(); err != nil {
		log.Debugw("bid stream: writing", "client", st.Conn().RemotePeer(), "err", err)
		return false
	}
	return true
}

// fallback gossips bids that could not be written on a stream, within the
// budget of gossiped bids.
func (s *bidSender) fallback(batch []*job.Bid) {
	for _, b := range batch {
		s.mu.Lock()
		ok := s.takeGossipLocked(time.Now())
		s.mu.Unlock()
		if !ok {
			s.counts.Shed.Add(1)
			continue
		}
		ctx, cancel := context.WithTimeout(s.m.ctx, 5*time.Second)
		err := s.m.PublishBid(ctx, b)
		cancel()
		if err != nil {
			s.counts.Shed.Add(1)
			log.Debugw("gossiping a bid", "job", b.Job, "err", err)
			continue
		}
		s.counts.Gossiped.Add(1)
	}
}

// serveBids reads the bids a provider sends on its stream and hands them
// to the bid handler like gossiped ones. A frame that does not decode, or
// a bid in another provider's name, ends the stream.
func (t *topics) serveBids(s network.Stream) {
	from := s.Conn().RemotePeer()
	br := bufio.NewReader(s)
	for {
		_ = s.SetReadDeadline(time.Now().Add(bidIdle + 10*time.Second))
		frame, err := ReadFrame(br, job.MaxGossipSize)
		if err != nil {
			if tooLarge := (*FrameTooLargeError)(nil); errors.As(err, &tooLarge) {
				t.drops.add(DropOversize)
			}
			if !errors.Is(err, io.EOF) {
				log.Debugw("bid stream: reading", "provider", from, "err", err)
			}
			_ = s.Reset()
			return
		}
		var b job.Bid
		if err := job.Decode(frame, job.MaxGossipSize, &b); err != nil {
			t.drops.add(DropDecode)
			log.Debugw("dropping a bid", "provider", from, "reason", DropDecode, "err", err)
			_ = s.Reset()
			return
		}
		if b.Provider != from.String() {
			t.drops.add(DropForged)
			log.Debugw("dropping a bid", "peer", from, "provider", b.Provider, "job", b.Job, "reason", DropForged)
			_ = s.Reset()
			return
		}
		t.deliverBid(&b, from)
	}
}
