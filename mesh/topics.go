package mesh

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/computemesh/computemesh/job"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Drop reasons counted by the topic validators.
const (
	DropOversize = "oversize"
	DropUnsigned = "unsigned"
	DropDecode   = "decode"
	DropForged   = "forged" // the claimed client or provider is not the signer
)

// Drops counts the gossip messages the validators refused, by reason.
// Oversize, Unsigned, Decode and Forged messages are rejected (held against
// the peer that forwarded them); OverRate ones, job requests past their
// author's rate (RequestRate), are ignored: neither handled nor forwarded,
// and held against nobody; so are Unfunded ones, requests relayed from an
// author that the RelayRequestsFrom gate refuses.
type Drops struct {
	Oversize, Unsigned, Decode, Forged atomic.Int64
	OverRate                           atomic.Int64
	Unfunded                           atomic.Int64
}

func (d *Drops) add(reason string) {
	switch reason {
	case DropOversize:
		d.Oversize.Add(1)
	case DropUnsigned:
		d.Unsigned.Add(1)
	case DropDecode:
		d.Decode.Add(1)
	case DropForged:
		d.Forged.Add(1)
	}
}

// Total returns the number of rejected messages (OverRate aside).
func (d *Drops) Total() int64 {
	return d.Oversize.Load() + d.Unsigned.Load() + d.Decode.Load() + d.Forged.Load()
}

// RequestHandler receives each valid job request; BidHandler each valid bid
// or decline. Handlers run on the topic's reader goroutine: keep them short.
type (
	RequestHandler func(r *job.Request, from peer.ID)
	BidHandler     func(b *job.Bid, from peer.ID)
)

// Job classes: each has its own jobs topic, so that a provider hears only
// the jobs it could serve (a CPU-only provider never receives, verifies or
// answers a GPU job).
const (
	ClassCPU = "cpu" // jobs that need no GPU: every provider
	ClassGPU = "gpu" // jobs that need a GPU: providers with one
)

// ClassOf returns the class of a job request.
func ClassOf(r *job.Request) string {
	if r.Resources.GPUs > 0 || r.Resources.GPUModel != "" || r.Resources.GPUVRAMBytes > 0 {
		return ClassGPU
	}
	return ClassCPU
}

// jobsTopic is the topic name of a class ("jobs" for CPU jobs, "jobs-gpu").
func jobsTopic(class string) string {
	if class == ClassGPU {
		return "jobs-gpu"
	}
	return "jobs"
}

type topics struct {
	m          *Mesh
	jobs, bids *pubsub.Topic
	jobsGPU    *pubsub.Topic
	cpuBatcher *requestBatcher
	gpuBatcher *requestBatcher
	jobsGPUSub *pubsub.Subscription
	ledger     *pubsub.Topic
	ledgerSub  *pubsub.Subscription
	capacity   *pubsub.Topic
	capSub     *pubsub.Subscription
	onCapacity CapacityHandler
	jobsSub    *pubsub.Subscription
	bidsSub    *pubsub.Subscription
	drops      Drops

	// relayGate, when set, is asked of each job request whose author is
	// not the peer that delivered it (see RelayRequestsFrom).
	relayGate atomic.Pointer[func(author peer.ID) bool]

	// heard counts the jobs topics' messages delivered here and the
	// requests they carried.
	heard RequestsHeard

	mu        sync.RWMutex
	relaying  bool // a member of every topic (RelayGossip)
	onRequest RequestHandler
	onBid     BidHandler
}

// scoredTopics are the names of the topics whose messages count in a
// peer's score.
func (m *Mesh) scoredTopics() []string {
	names := make([]string, 0, 5)
	for _, n := range []string{jobsTopic(ClassCPU), jobsTopic(ClassGPU), "bids", "capacity", "ledger"} {
		names = append(names, m.TopicName(n))
	}
	return names
}

// TopicName returns the name of one of the network's topics.
func (m *Mesh) TopicName(name string) string {
	return "computemesh/" + m.cfg.network + "/" + name
}

func joinTopics(m *Mesh) (*topics, error) {
	t := &topics{m: m}
	var err error
	bidsName := m.TopicName("bids")
	for _, class := range []string{ClassCPU, ClassGPU} {
		name := m.TopicName(jobsTopic(class))
		if err = m.ps.RegisterTopicValidator(name, t.validator(t.requestRate, t.relayed, func(b []byte, from peer.ID) (any, string) {
			return t.decodeRequests(b, from, class)
		}), pubsub.WithValidatorInline(true)); err != nil {
			return nil, errorf("registering %s validator: %w", name, err)
		}
		tp, err := m.ps.Join(name)
		if err != nil {
			return nil, errorf("joining %s: %w", name, err)
		}
		if class == ClassGPU {
			t.jobsGPU, t.gpuBatcher = tp, newRequestBatcher(m, tp)
		} else {
			t.jobs, t.cpuBatcher = tp, newRequestBatcher(m, tp)
		}
	}
	if err = m.ps.RegisterTopicValidator(bidsName, t.validator(nil, nil, func(b []byte, from peer.ID) (any, string) {
		var bid job.Bid
		if err := job.Decode(b, job.MaxGossipSize, &bid); err != nil {
			log.Debugw("dropping a bid", "provider", from, "reason", DropDecode, "err", err)
			return nil, DropDecode
		}
		if bid.Provider != from.String() {
			log.Debugw("dropping a bid", "peer", from, "provider", bid.Provider, "job", bid.Job, "reason", DropForged)
			return nil, DropForged
		}
		return &bid, ""
	}), pubsub.WithValidatorInline(true)); err != nil {
		return nil, errorf("registering bids validator: %w", err)
	}
	if t.bids, err = m.ps.Join(bidsName); err != nil {
		return nil, errorf("joining %s: %w", bidsName, err)
	}
	capName := m.TopicName("capacity")
	if err = m.ps.RegisterTopicValidator(capName, t.validator(nil, nil, func(b []byte, from peer.ID) (any, string) {
		c, err := capacityValidator{network: m.cfg.network, now: time.Now}.open(CapacityKey(from), b)
		if err != nil {
			log.Debugw("dropping a capacity record", "peer", from, "err", err)
			if errors.Is(err, errForged) {
				return nil, DropForged
			}
			return nil, DropDecode
		}
		return c, ""
	}), pubsub.WithValidatorInline(true)); err != nil {
		return nil, errorf("registering capacity validator: %w", err)
	}
	if t.capacity, err = m.ps.Join(capName); err != nil {
		return nil, errorf("joining %s: %w", capName, err)
	}
	if err := t.joinLedger(m); err != nil {
		return nil, err
	}
	return t, nil
}

// validator wraps a decoder with the checks every topic makes: size limit
// and a signature from the author; where gate is not nil, gate(src,
// author): a message it refuses is ignored; and, once decoded, where limit
// is not nil, limit(author, value), the author's rate: a message over it is
// ignored too (not rejected: whoever forwarded it may have been within it
// by its own clock).
func (t *topics) validator(limit func(author peer.ID, v any) bool, gate func(src, author peer.ID) bool, decode func([]byte, peer.ID) (any, string)) pubsub.ValidatorEx {
	return func(_ context.Context, src peer.ID, msg *pubsub.Message) pubsub.ValidationResult {
		if len(msg.Data) > job.MaxGossipSize {
			t.drops.add(DropOversize)
			log.Debugw("dropping a message", "topic", msg.GetTopic(), "bytes", len(msg.Data), "max_bytes", job.MaxGossipSize, "reason", DropOversize)
			return pubsub.ValidationReject
		}
		if len(msg.Signature) == 0 || len(msg.From) == 0 {
			t.drops.add(DropUnsigned)
			log.Debugw("dropping a message", "topic", msg.GetTopic(), "reason", DropUnsigned)
			return pubsub.ValidationReject
		}
		if gate != nil && !gate(src, msg.GetFrom()) {
			t.drops.Unfunded.Add(1)
			return pubsub.ValidationIgnore
		}
		v, reason := decode(msg.Data, msg.GetFrom())
		if reason != "" {
			t.drops.add(reason)
			return pubsub.ValidationReject
		}
		if limit != nil && !limit(msg.GetFrom(), v) {
			t.drops.OverRate.Add(1)
			return pubsub.ValidationIgnore
		}
		msg.ValidatorData = v
		return pubsub.ValidationAccept
	}
}

// relayed is the jobs topics' gate: a request its author delivered itself
// (or this node published) passes; one relayed by another peer passes
// when the RelayRequestsFrom gate, if any, accepts its author.
func (t *topics) relayed(src, author peer.ID) bool {
	if src == author || src == t.m.host.ID() {
		return true
	}
	g := t.relayGate.Load()
	return g == nil || (*g)(author)
}

// RelayRequestsFrom sets which authors' job requests this node handles and
// forwards when another peer relays them; a request its author sends
// itself is always handled (so that a refused author still hears why, on
// a stream). On a network with credits, a node passes only authors whose
// balance covers something: requests of keys that cannot pay for a job —
// a flood spread over throw-away keys — stop at the first node they reach,
// ignored, not held against the peer that relayed them. nil relays all.
func (m *Mesh) RelayRequestsFrom(allow func(author peer.ID) bool) {
	if allow == nil {
		m.topics.relayGate.Store(nil)
		return
	}
	m.topics.relayGate.Store(&allow)
}

func (t *topics) read(sub *pubsub.Subscription, handle func(*pubsub.Message)) {
	defer t.m.wg.Done()
	self := t.m.host.ID()
	for {
		msg, err := sub.Next(t.m.ctx)
		if err != nil {
			return
		}
		if msg.ReceivedFrom == self {
			continue
		}
		handle(msg)
	}
}

func (t *topics) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.jobsSub != nil {
		t.jobsSub.Cancel()
	}
	if t.jobsGPUSub != nil {
		t.jobsGPUSub.Cancel()
	}
	if t.ledgerSub != nil {
		t.ledgerSub.Cancel()
	}
	if t.bidsSub != nil {
		t.bidsSub.Cancel()
	}
	if t.capSub != nil {
		t.capSub.Cancel()
	}
}

// OnRequest subscribes to the jobs topics of classes (ClassCPU when none is
// given) and hands each valid job request to h. Only providers subscribe: a
// client publishes requests without subscribing, so the jobs topics' peers
// are the network's providers.
func (m *Mesh) OnRequest(h RequestHandler, classes ...string) error {
	t := m.topics
	t.mu.Lock()
	defer t.mu.Unlock()
	t.onRequest = h
	if len(classes) == 0 {
		classes = []string{ClassCPU}
	}
	for _, c := range classes {
		topic, sub := t.jobs, &t.jobsSub
		if c == ClassGPU {
			topic, sub = t.jobsGPU, &t.jobsGPUSub
		}
		if err := t.subscribeLocked(topic, sub, t.deliverRequest); err != nil {
			return err
		}
	}
	return nil
}

func (t *topics) deliverRequest(v any, from peer.ID) {
	t.mu.RLock()
	h := t.onRequest
	t.mu.RUnlock()
	rs, ok := v.([]*job.Request)
	if !ok {
		return
	}
	t.heard.Messages.Add(1)
	t.heard.Requests.Add(int64(len(rs)))
	if h != nil {
		for _, r := range rs {
			h(r, from)
		}
	}
}

func (t *topics) deliverBid(v any, from peer.ID) {
	t.mu.RLock()
	h := t.onBid
	t.mu.RUnlock()
	if b, ok := v.(*job.Bid); ok && h != nil {
		h(b, from)
	}
}

func (t *topics) deliverCapacity(v any, _ peer.ID) {
	t.mu.RLock()
	h := t.onCapacity
	t.mu.RUnlock()
	if c, ok := v.(*job.Capacity); ok && h != nil {
		h(c)
	}
}

// OnBid subscribes to the bids topic and hands each valid bid or decline to
// h. Only nodes that submit jobs subscribe: providers publish bids without
// subscribing, so they neither receive nor verify each other's bids.
func (m *Mesh) OnBid(h BidHandler) error {
	t := m.topics
	t.mu.Lock()
	defer t.mu.Unlock()
	t.onBid = h
	t.m.host.SetStreamHandler(t.m.Protocol(bidProto), t.serveBids)
	return t.subscribeLocked(t.bids, &t.bidsSub, t.deliverBid)
}

// CapacityHandler receives each valid capacity record gossiped by a
// provider whose free capacity changed.
type CapacityHandler func(c *job.Capacity)

// OnCapacity subscribes to the capacity topic, where providers gossip their
// signed record as they start and when what they have free changes, and
// hands each verified record to h. A node that serves the DHT announces
// there that it takes the topic (announceListener), so that a provider
// that knows no peer on it finds one.
func (m *Mesh) OnCapacity(h CapacityHandler) error {
	t := m.topics
	t.mu.Lock()
	defer t.mu.Unlock()
	t.onCapacity = h
	first := t.capSub == nil
	if err := t.subscribeLocked(t.capacity, &t.capSub, t.deliverCapacity); err != nil {
		return err
	}
	if first {
		m.announceListener()
	}
	return nil
}

// subscribeLocked subscribes to topic once, storing the subscription in
// *sub, and hands the validator's decoded value of every message to
// deliver on a reader goroutine. t.mu must be held.
func (t *topics) subscribeLocked(topic *pubsub.Topic, sub **pubsub.Subscription, deliver func(v any, from peer.ID)) error {
	if *sub != nil {
		return nil
	}
	s, err := topic.Subscribe(pubsub.WithBufferSize(1024))
	if err != nil {
		return errorf("subscribing to %s: %w", topic, err)
	}
	*sub = s
	t.m.wg.Add(1)
	go t.read(s, func(msg *pubsub.Message) { deliver(msg.ValidatorData, msg.GetFrom()) })
	return nil
}

// PublishRequest gossips a job request on its class's topic, in a batch
// with others when this node publishes many (see requestBatcher), and
// returns once it is published.
func (m *Mesh) PublishRequest(ctx context.Context, r *job.Request) error {
	b := m.topics.cpuBatcher
	if ClassOf(r) == ClassGPU {
		b = m.topics.gpuBatcher
	}
	if err := b.publish(ctx, r); err != nil {
		return errorf("publishing job request %s: %w", r.Job, err)
	}
	return nil
}

// PublishBid gossips a bid or decline.
func (m *Mesh) PublishBid(ctx context.Context, b *job.Bid) error {
	if err := m.topics.bids.Publish(ctx, job.Encode(b)); err != nil {
		return errorf("publishing bid for %s: %w", b.Job, err)
	}
	return nil
}

// Drops returns the validators' counters of refused messages.
func (m *Mesh) Drops() *Drops { return &m.topics.drops }

// TopicPeers returns the peers known to be subscribed to a jobs topic
// (providers) and to the bids topic (nodes that submit jobs).
func (m *Mesh) TopicPeers() (jobs, bids []peer.ID) {
	jobs = m.topics.jobs.ListPeers()
	for _, p := range m.topics.jobsGPU.ListPeers() {
		if !slices.Contains(jobs, p) {
			jobs = append(jobs, p)
		}
	}
	return m.providersOf(jobs), m.topics.bids.ListPeers()
}

// ClassPeers returns the providers known to hear jobs of a class.
func (m *Mesh) ClassPeers(class string) []peer.ID {
	if class == ClassGPU {
		return m.providersOf(m.topics.jobsGPU.ListPeers())
	}
	return m.providersOf(m.topics.jobs.ListPeers())
}

// WaitProviders waits until the jobs topic has at least n peers: providers
// that will hear this node's job requests.
func (m *Mesh) WaitProviders(ctx context.Context, n int) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		j, _ := m.TopicPeers()
		if len(j) >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return errorf("%d providers on the jobs topic after waiting (want %d): %w", len(j), n, ctx.Err())
		case <-t.C:
		}
	}
}
