package mesh

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/computemesh/computemesh/job"
	record "github.com/libp2p/go-libp2p-record"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	lprecord "github.com/libp2p/go-libp2p/core/record"
)

// CapacityNamespace is the DHT namespace of capacity records: a provider's
// record lives under /cmcap/<peer ID bytes>.
const CapacityNamespace = "cmcap"

// capacityDomain separates signatures over capacity records from every
// other use of a node's key.
const capacityDomain = "computemesh-capacity"

// capacityCodec is the envelope's payload type (a private multicodec-range
// tag followed by the name).
var capacityCodec = []byte("/computemesh/capacity/1")

// capacityRecord adapts job.Capacity to a libp2p signed-envelope record.
type capacityRecord struct{ job.Capacity }

func (r *capacityRecord) Domain() string                 { return capacityDomain }
func (r *capacityRecord) Codec() []byte                  { return capacityCodec }
func (r *capacityRecord) MarshalRecord() ([]byte, error) { return json.Marshal(&r.Capacity) }
func (r *capacityRecord) UnmarshalRecord(b []byte) error {
	return job.Decode(b, job.MaxCapacityRecord, &r.Capacity)
}

// SealCapacity signs a capacity record with the provider's key.
func SealCapacity(c *job.Capacity, key crypto.PrivKey) ([]byte, error) {
	env, err := lprecord.Seal(&capacityRecord{*c}, key)
	if err != nil {
		return nil, fmt.Errorf("signing capacity record: %w", err)
	}
	b, err := env.Marshal()
	if err != nil {
		return nil, fmt.Errorf("encoding capacity record: %w", err)
	}
	if len(b) > job.MaxCapacityRecord {
		return nil, fmt.Errorf("capacity record of %d bytes exceeds the limit of %d", len(b), job.MaxCapacityRecord)
	}
	return b, nil
}

// OpenCapacity verifies a signed capacity record and returns it: the
// signature must be by the key of the peer the record names, the record
// within the size limit, well formed and not expired at now.
func OpenCapacity(b []byte, now time.Time) (*job.Capacity, error) {
	if len(b) > job.MaxCapacityRecord {
		return nil, fmt.Errorf("capacity record of %d bytes exceeds the limit of %d", len(b), job.MaxCapacityRecord)
	}
	var r capacityRecord
	env, err := lprecord.ConsumeTypedEnvelope(b, &r)
	if err != nil {
		return nil, fmt.Errorf("capacity record: %w", err)
	}
	if !bytes.Equal(env.PayloadType, capacityCodec) {
		return nil, fmt.Errorf("capacity record: payload type %q, want %q", env.PayloadType, capacityCodec)
	}
	signer, err := peer.IDFromPublicKey(env.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("capacity record: signer: %w", err)
	}
	if signer.String() != r.Peer {
		return nil, fmt.Errorf("%w: capacity record for %s is signed by %s", errForged, r.Peer, signer)
	}
	if err := checkExpiry(&r.Capacity, now); err != nil {
		return nil, err
	}
	return &r.Capacity, nil
}

// checkExpiry fails when c has expired at now, or lives longer than any
// record may (job.MaxRecordTTL, with a minute for clocks).
func checkExpiry(c *job.Capacity, now time.Time) error {
	if now.UnixMilli() > c.ExpiresMS {
		return fmt.Errorf("capacity record of %s (seq %d) expired at %s", c.Peer, c.Seq, time.UnixMilli(c.ExpiresMS).UTC().Format(time.RFC3339))
	}
	if c.ExpiresMS > now.Add(job.MaxRecordTTL+time.Minute).UnixMilli() {
		return fmt.Errorf("capacity record of %s (seq %d) expires at %s: more than %v from now", c.Peer, c.Seq, time.UnixMilli(c.ExpiresMS).UTC().Format(time.RFC3339), job.MaxRecordTTL)
	}
	return nil
}

// CapacityKey is the DHT key of a provider's capacity record.
func CapacityKey(p peer.ID) string { return "/" + CapacityNamespace + "/" + string(p) }

// capacityValidator is the DHT's validator of the capacity namespace:
// signature by the peer the key names, size, expiry, network, and the
// highest sequence number wins.
type capacityValidator struct {
	network  string
	now      func() time.Time
	verified *verifiedCapacity // records verified before (nil: none)
}

var errNotCapacityKey = errors.New("not a capacity record key")

// errForged marks a capacity record signed by, or stored under the key of,
// a peer other than the one it describes.
var errForged = errors.New("forged")

func (v capacityValidator) open(key string, value []byte) (*job.Capacity, error) {
	ns, id, err := record.SplitKey(key)
	if err != nil || ns != CapacityNamespace {
		return nil, errNotCapacityKey
	}
	p, err := peer.IDFromBytes([]byte(id))
	if err != nil {
		return nil, fmt.Errorf("capacity key: %w", err)
	}
	c, err := v.verified.open(value, v.now())
	if err != nil {
		return nil, err
	}
	if c.Peer != p.String() {
		return nil, fmt.Errorf("%w: capacity record of %s stored under the key of %s", errForged, c.Peer, p)
	}
	if c.Network != v.network {
		return nil, fmt.Errorf("capacity record of %s is for network %q, not %q", c.Peer, c.Network, v.network)
	}
	return c, nil
}

// Validate implements record.Validator.
func (v capacityValidator) Validate(key string, value []byte) error {
	_, err := v.open(key, value)
	if err != nil {
		log.Debugw("refusing a capacity record", "key", key, "err", err)
	}
	return err
}

// Select implements record.Validator: the valid record with the highest
// sequence number (the first of equals).
func (v capacityValidator) Select(key string, values [][]byte) (int, error) {
	best, bestSeq := -1, uint64(0)
	for i, val := range values {
		c, err := v.open(key, val)
		if err != nil {
			continue
		}
		if best < 0 || c.Seq > bestSeq {
			best, bestSeq = i, c.Seq
		}
	}
	if best < 0 {
		return 0, errors.New("no valid capacity record")
	}
	return best, nil
}

// PutCapacity signs c with the node's key, gossips it on the capacity
// topic (in the background, once a peer on the topic is known:
// gossipCapacity) and stores it on the DHT under the node's capacity key
// (once the routing table has a peer, within ctx). It returns the signed
// record's size.
func (m *Mesh) PutCapacity(ctx context.Context, c *job.Capacity) (int, error) {
	b, err := SealCapacity(c, m.cfg.key)
	if err != nil {
		return 0, err
	}
	m.setOwnCapacity(b)
	m.gossipCapacity(b, c.Seq)
	m.awaitRoutingTable(ctx)
	if err := m.dht.PutValue(ctx, CapacityKey(m.host.ID()), b); err != nil {
		return len(b), errorf("storing capacity record seq %d: %w", c.Seq, err)
	}
	return len(b), nil
}

// GetCapacity fetches a provider's capacity record from the DHT and verifies
// it (signature, size, expiry, network).
func (m *Mesh) GetCapacity(ctx context.Context, p peer.ID) (*job.Capacity, error) {
	if p == m.host.ID() {
		if b := m.ownCapacity(); b != nil {
			return m.capacityValidator().open(CapacityKey(p), b)
		}
	}
	b, err := m.dht.GetValue(ctx, CapacityKey(p))
	if err != nil {
		return nil, errorf("capacity record of %s: %w", p, err)
	}
	c, err := m.capacityValidator().open(CapacityKey(p), b)
	if err != nil {
		return nil, errorf("capacity record of %s: %w", p, err)
	}
	return c, nil
}

// capacityValidator is the node's validator of capacity records: the DHT's,
// remembering the records it has verified.
func (m *Mesh) capacityValidator() capacityValidator {
	return capacityValidator{network: m.cfg.network, now: time.Now, verified: &m.capVerified}
}

func (m *Mesh) setOwnCapacity(b []byte) {
	m.capMu.Lock()
	m.capRec = bytes.Clone(b)
	m.capMu.Unlock()
}

func (m *Mesh) ownCapacity() []byte {
	m.capMu.Lock()
	defer m.capMu.Unlock()
	return m.capRec
}

// gossipCapacity publishes the signed record b (sequence seq) on the
// capacity topic in the background, as soon as this node knows a peer
// subscribed to it (clients, gossip relays), unless a newer record has
// been sealed meanwhile or the node closes; when none has turned up after
// listenerWait, it looks some up on the DHT and dials them
// (dialListeners). A provider does not subscribe:
// it learns the topic's peers from the peers it connects to, and one that
// has just started knows none yet but among the bootstrap peers it has
// just dialled. Published at once, as before, its first record reached a
// client only when one of those was one (GossipSub drops a message it has
// no peer for), and clients learnt of a new provider through the DHT, once
// its Provide and their look-ups were done: seconds on a busy mesh.
func (m *Mesh) gossipCapacity(b []byte, seq uint64) {
	if m.ctx.Err() != nil {
		return
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		poll, looked := 10*time.Millisecond, false
		for start := time.Now(); len(m.topics.capacity.ListPeers()) == 0; {
			select {
			case <-m.ctx.Done():
				return
			case <-time.After(poll):
			}
			if !bytes.Equal(m.ownCapacity(), b) {
				return // a newer record goes out instead
			}
			poll = min(poll*2, listenerPoll)
			if !looked && time.Since(start) >= listenerWait && m.dht.RoutingTable().Size() > 0 {
				looked = true
				m.dialListeners()
			}
		}
		if err := m.topics.capacity.Publish(m.ctx, b); err != nil {
			log.Debugw("gossiping the capacity record", "seq", seq, "err", err)
		}
	}()
}

// listenersKey is the capability key under which the nodes that take the
// capacity topic and serve the DHT (client nodes) announce themselves:
// a provider that knows no peer on the topic finds some there
// (dialListeners), as GossipSub's own discovery would, for this topic
// only.
const listenersKey = "capacity-listeners"

// listenerPoll is how often, at most, a record waiting for a peer on the
// capacity topic checks for one: every check it waits past the peer's
// arrival is added to the record's way to the clients (with a poll backing
// off to a second, a peer that turned up after 1.3 s was seen at 2.3 s).
const listenerPoll = 50 * time.Millisecond

// listenerWait is how long a record waits for a peer on the capacity topic
// to turn up among the peers a provider connects to anyway before it looks
// listeners up on the DHT.
const listenerWait = 250 * time.Millisecond

// announceListener announces this node under listenersKey, when it serves
// the DHT (others can dial it; an ephemeral or private node does not).
func (m *Mesh) announceListener() {
	if m.cfg.server {
		m.Announce([]string{listenersKey}, nil)
	}
}

// dialListeners looks up a few nodes announced under listenersKey and
// connects to them, within 10 s: once connected, GossipSub knows them to
// be on the capacity topic.
func (m *Mesh) dialListeners() {
	ctx, cancel := context.WithTimeout(m.ctx, 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for ai := range m.dht.FindProvidersAsync(ctx, m.CapabilityCID(listenersKey), 3) {
		if ai.ID == m.host.ID() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := m.host.Connect(ctx, ai); err != nil {
				log.Debugw("capacity listener unreachable", "peer", ai.ID, "err", err)
			}
		}()
	}
	wg.Wait()
}
