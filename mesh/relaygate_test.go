package mesh

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// requestLog collects the job requests a node's handler receives, by
// author.
type requestLog struct {
	mu   sync.Mutex
	from map[peer.ID]int
	jobs map[string]bool
}

func newRequestLog() *requestLog {
	return &requestLog{from: map[peer.ID]int{}, jobs: map[string]bool{}}
}

func (l *requestLog) handler(r *job.Request, from peer.ID) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.from[from]++
	l.jobs[r.Job] = true
}

func (l *requestLog) has(job string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.jobs[job]
}

func (l *requestLog) count(p peer.ID) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.from[p]
}

func testRequest(t *testing.T, client peer.ID, i int) *job.Request {
	t.Helper()
	s := &job.Spec{Executor: job.ExecutorWASM, Module: job.ModuleCID([]byte("module")).String(),
		Resources: job.Resources{CPUMillis: 100, MemoryBytes: 1 << 20}, TimeoutMS: 1000}
	id := job.NewID(s, client.String(), fmt.Appendf(nil, "%s %d", t.Name(), i)).String()
	return job.NewRequest(id, client.String(), s, 0)
}

// A node refuses the job requests of an author its gate refuses (a key
// that cannot pay) when another peer relays them: it neither handles nor
// forwards them, and holds them against no one (the relaying peer keeps a
// score ≥ 0). A request its author delivers itself is handled whatever the
// gate says, so that a refused author still hears why.
func TestRelayRequestsFromGate(t *testing.T) {
	ctx := context.Background()
	const network = "test-relay-gate"
	relay, prov := listening(t, network), listening(t, network)
	refused, accepted := testKey(t), testKey(t)
	broke := listening(t, network) // a refused author that connects itself
	gate := func(author peer.ID) bool { return author != refused.id && author != broke.ID() }
	relay.RelayRequestsFrom(gate)
	prov.RelayRequestsFrom(gate)
	relayLog, provLog := newRequestLog(), newRequestLog()
	if err := relay.OnRequest(relayLog.handler); err != nil {
		t.Fatal(err)
	}
	if err := prov.OnRequest(provLog.handler); err != nil {
		t.Fatal(err)
	}
	connect(t, prov, relay)
	waitFor(t, "the relay to hear that the provider takes requests", func() bool {
		return slices.Contains(relay.ps.ListPeers(relay.TopicName(jobsTopic(ClassCPU))), prov.ID())
	})

	// A bare GossipSub peer, connected to the relay only, publishes
	// requests signed by two keys of peers that are not there.
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	ps, err := pubsub.NewGossipSub(ctx, h, pubsub.WithMessageSigning(true), pubsub.WithStrictSignatureVerification(true))
	if err != nil {
		t.Fatal(err)
	}
	topic, err := ps.Join(relay.TopicName(jobsTopic(ClassCPU)))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Connect(ctx, peer.AddrInfo{ID: relay.ID(), Addrs: relay.Host().Addrs()}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the flooder to hear that the relay takes requests", func() bool { return len(topic.ListPeers()) > 0 })
	publish := func(k testAuthor, i int) string {
		t.Helper()
		r := testRequest(t, k.id, i)
		if err := topic.Publish(ctx, job.Encode(r), pubsub.WithSecretKeyAndPeerId(k.key, k.id)); err != nil {
			t.Fatal(err)
		}
		return r.Job
	}
	// The relay forwards to the peers of its GossipSub mesh, which a
	// heartbeat forms: the accepted author's requests go out until one
	// reaches the provider.
	sent := 0
	waitFor(t, "the provider to hear the accepted author's request through the relay", func() bool {
		if provLog.count(accepted.id) > 0 {
			return true
		}
		sent++
		publish(accepted, sent)
		time.Sleep(100 * time.Millisecond)
		return false
	})
	publish(refused, 0)
	last := publish(accepted, -1)
	waitFor(t, "the provider to hear the accepted author's last request", func() bool { return provLog.has(last) })
	waitFor(t, "the relay to ignore the refused author's request", func() bool {
		return relay.Drops().Unfunded.Load() == 1
	})
	if n, m := relayLog.count(refused.id), provLog.count(refused.id); n != 0 || m != 0 {
		t.Fatalf("the refused author's relayed request was handled by the relay %d times, by the provider %d times", n, m)
	}
	if n := relayLog.count(accepted.id); n != sent+1 {
		t.Fatalf("the relay handled the accepted author's requests %d times, want %d", n, sent+1)
	}
	if n := prov.Drops().Unfunded.Load(); n != 0 {
		t.Fatalf("the provider saw %d refused requests: the relay forwarded what it ignored", n)
	}
	if n := relay.Drops().Total(); n != 0 {
		t.Fatalf("the relay rejected %d messages: an ignored request is held against no one", n)
	}
	waitFor(t, "the relay to score the flooder", func() bool { _, ok := relay.PeerScores()[h.ID()]; return ok })
	if s := relay.PeerScores()[h.ID()]; s < 0 {
		t.Fatalf("the relay scores the peer that relayed the refused request %v: ignoring must not penalise it", s)
	}

	// Its own request, sent directly, is handled: the gate is for relayed
	// requests only.
	connect(t, broke, prov)
	waitFor(t, "the refused author to hear that the provider takes requests", func() bool {
		return slices.Contains(broke.ps.ListPeers(broke.TopicName(jobsTopic(ClassCPU))), prov.ID())
	})
	// A peer that joined the topic a moment ago may miss one publish (the
	// GossipSub mesh forms in heartbeats): a fresh request each second.
	var tries time.Time
	n := 0
	waitFor(t, "the provider to hear the refused author's own request", func() bool {
		if time.Since(tries) > time.Second {
			tries, n = time.Now(), n+1
			if err := broke.PublishRequest(ctx, testRequest(t, broke.ID(), 1000+n)); err != nil {
				t.Fatal(err)
			}
		}
		return provLog.count(broke.ID()) >= 1
	})
}

type testAuthor struct {
	key crypto.PrivKey
	id  peer.ID
}

func testKey(t *testing.T) testAuthor {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return testAuthor{k, id}
}
