package mesh

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// listeningWith is listening with more options.
func listeningWith(t *testing.T, network string, opts ...Option) *Mesh {
	t.Helper()
	m, err := New(context.Background(), append([]Option{Network(network), Listen("/ip4/127.0.0.1/tcp/0")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// providerAndClient starts a provider that logs the requests it hears and a
// client connected to it, each with its options, and waits until the
// client sees the provider on the jobs topic.
func providerAndClient(t *testing.T, network string, provOpts, clientOpts []Option) (prov, client *Mesh, log *requestLog) {
	t.Helper()
	prov, client = listeningWith(t, network, provOpts...), listeningWith(t, network, clientOpts...)
	log = newRequestLog()
	if err := prov.OnRequest(log.handler); err != nil {
		t.Fatal(err)
	}
	connect(t, client, prov)
	waitFor(t, "the client to see the provider on the jobs topic", func() bool {
		return slices.Contains(client.topics.jobs.ListPeers(), prov.ID())
	})
	return prov, client, log
}

// publishAll publishes n requests of client from par goroutines at once.
func publishAll(t *testing.T, client *Mesh, n, par int) []string {
	t.Helper()
	ids := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, par)
	for i := range n {
		r := testRequest(t, client.ID(), i)
		ids[i] = r.Job
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := client.PublishRequest(t.Context(), r); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return ids
}

// A client that publishes many requests at once sends them in batches:
// every request reaches the provider, in fewer messages than requests.
// With RequestLinger(0) each goes alone.
func TestRequestsGoInBatches(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    []Option
		n, par  int
		batched bool
	}{
		{"linger", nil, 300, 64, true},
		// One at a time: GossipSub's queue to a peer holds peerQueue
		// messages, and a burst of unbatched ones could overflow it.
		{"no linger", []Option{RequestLinger(0)}, 50, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prov, client, log := providerAndClient(t, "test-batch-"+tc.name[:2], nil, tc.opts)
			n := int64(tc.n)
			ids := publishAll(t, client, tc.n, tc.par)
			waitFor(t, "the provider to hear every request", func() bool {
				for _, id := range ids {
					if !log.has(id) {
						return false
					}
				}
				return true
			})
			heard := prov.RequestsHeard()
			msgs, reqs := heard.Messages.Load(), heard.Requests.Load()
			t.Logf("%d requests in %d messages", reqs, msgs)
			if reqs != n {
				t.Fatalf("heard %d requests, want %d", reqs, n)
			}
			if tc.batched && msgs > n/2 {
				t.Fatalf("%d requests published %d at a time came in %d messages; want batches (at most %d messages)", n, tc.par, msgs, n/2)
			}
			if !tc.batched && msgs != n {
				t.Fatalf("without a linger: %d messages for %d requests, want one each", msgs, n)
			}
		})
	}
}

// A hostile batch — one member claiming another client, or more requests
// than the author's rate allows — is dropped whole: none of its requests
// reaches the handler.
func TestHostileBatches(t *testing.T) {
	const network = "test-batch-hostile"
	prov := listeningWith(t, network, RequestRate(5, 5))
	log := newRequestLog()
	if err := prov.OnRequest(log.handler); err != nil {
		t.Fatal(err)
	}
	// A bare GossipSub peer: its own node would refuse to publish these.
	attacker, topic := bareGossipPeer(t, prov, prov.TopicName(jobsTopic(ClassCPU)))
	victim := testKey(t)
	publish := func(rs ...*job.Request) {
		t.Helper()
		enc := make([][]byte, len(rs))
		for i, r := range rs {
			enc[i] = job.Encode(r)
		}
		if err := topic.Publish(t.Context(), job.EncodeRequests(enc)); err != nil {
			t.Fatal(err)
		}
	}
	// One of two requests claims the victim as its client: not a batch.
	forged := testRequest(t, victim.id, 1)
	publish(testRequest(t, attacker, 1), forged)
	waitFor(t, "the provider to drop the mixed batch", func() bool { return prov.Drops().Decode.Load() == 1 })
	// Both claim the victim: forged.
	publish(forged, testRequest(t, victim.id, 2))
	waitFor(t, "the provider to drop the forged batch", func() bool { return prov.Drops().Forged.Load() == 1 })

	// Burst 5: a batch of 3 passes, the next batch of 3 is over the rate.
	first := []*job.Request{testRequest(t, attacker, 10), testRequest(t, attacker, 11), testRequest(t, attacker, 12)}
	publish(first...)
	waitFor(t, "the provider to hear the first batch", func() bool { return log.count(attacker) == 3 })
	publish(testRequest(t, attacker, 20), testRequest(t, attacker, 21), testRequest(t, attacker, 22))
	waitFor(t, "the provider to ignore the second batch", func() bool { return prov.Drops().OverRate.Load() == 1 })
	time.Sleep(200 * time.Millisecond) // anything delivered would be by now
	if got := log.count(attacker); got != 3 || log.has(forged.Job) {
		t.Fatalf("the provider handled %d of the attacker's requests (forged one: %v), want the first batch's 3 only", got, log.has(forged.Job))
	}
}

// bareGossipPeer starts a libp2p host with GossipSub alone, connected to m,
// joined to topic and seen by m there.
func bareGossipPeer(t *testing.T, m *Mesh, name string) (peer.ID, *pubsub.Topic) {
	t.Helper()
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	ps, err := pubsub.NewGossipSub(t.Context(), h, pubsub.WithMessageSigning(true), pubsub.WithStrictSignatureVerification(true))
	if err != nil {
		t.Fatal(err)
	}
	topic, err := ps.Join(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Connect(t.Context(), peer.AddrInfo{ID: m.ID(), Addrs: m.Host().Addrs()}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the bare peer to see the node on "+name, func() bool { return slices.Contains(topic.ListPeers(), m.ID()) })
	return h.ID(), topic
}

// A client that submits faster than the per-author rate its peers enforce
// is slowed down to it, never dropped: with 100 requests a second (burst
// 100) on both nodes, 400 requests published 64 at a time all succeed, and
// the provider, whose bucket for the client is as small, hears every one
// and ignores none. (Before pacing, the client's own validator ignored
// what went past its bucket: "validation ignored", the jobs unscheduled.)
func TestRequestsPacedToTheRate(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
		par  int
	}{
		{"linger", nil, 64},
		{"no linger", []Option{RequestLinger(0)}, 1},
		// Many callers at once, each its own message: the pacer's tokens
		// are taken in turn, not merely looked at (a look let them all
		// through together and spent the headroom).
		{"no linger, 32 at once", []Option{RequestLinger(0)}, 32},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rate := RequestRate(100, 100)
			prov, client, log := providerAndClient(t, fmt.Sprintf("test-pace-%d-%s", tc.par, tc.name[:2]), []Option{rate}, append([]Option{rate}, tc.opts...))
			const n = 400
			ids := publishAll(t, client, n, tc.par) // fails on any error
			last := -1
			heard := func() (n int) {
				for _, id := range ids {
					if log.has(id) {
						n++
					}
				}
				return n
			}
			waitFor(t, "the provider to hear every request", func() bool {
				if over := prov.Drops().OverRate.Load(); over != 0 {
					t.Fatalf("the provider ignored %d messages over the client's rate; want none", over)
				}
				if h := heard(); h < n {
					if h != last {
						t.Logf("heard %d of %d (counted %d, rejected %d)", h, n, prov.RequestsHeard().Requests.Load(), prov.Drops().Total())
					}
					last = h
					return false
				}
				return true
			})
			if over := prov.Drops().OverRate.Load(); over != 0 {
				t.Fatalf("the provider ignored %d messages over the client's rate; want none", over)
			}
			if got := prov.RequestsHeard().Requests.Load(); got != n {
				t.Fatalf("the provider heard %d requests, want %d", got, n)
			}
		})
	}
}
