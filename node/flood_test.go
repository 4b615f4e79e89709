package node

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/computemesh/computemesh/internal/testfaucet"
	"github.com/computemesh/computemesh/job"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	libp2pnet "github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// flooder is a raw GossipSub peer that signs job requests with its own key.
type flooder struct {
	h    host.Host
	jobs *pubsub.Topic
}

// newFlooder is a flooder that takes the bids sent to it on the bid
// protocol, as a client does (and throws them away): providers answer it
// as they would an honest client.
func newFlooder(t testing.TB, network string, peers []*Node) *flooder {
	t.Helper()
	return gossipFlooder(t, network, peers, true)
}

// gossipFlooder is a flooder connected to peers; with takeBids false it
// does not speak the bid protocol (a bare GossipSub peer).
func gossipFlooder(t testing.TB, network string, peers []*Node, takeBids bool) *flooder {
	t.Helper()
	// A queue for a whole burst: with GossipSub's default (32 messages a
	// peer) a flood published at once loses most of itself on the way out.
	h, ps := rawGossipPeer(t, pubsub.WithPeerOutboundQueueSize(4096))
	if takeBids {
		h.SetStreamHandler(protocol.ID("/computemesh/"+network+"/bids/1.0.0"), func(s libp2pnet.Stream) {
			_, _ = io.Copy(io.Discard, s)
			_ = s.Close()
		})
	}
	tp, err := ps.Join("computemesh/" + network + "/jobs")
	if err != nil {
		t.Fatal(err)
	}
	connectTo(t, h, peers)
	for deadline := time.Now().Add(60 * time.Second); len(tp.ListPeers()) < len(peers); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the flooder sees %d of %d peers on the jobs topic", len(tp.ListPeers()), len(peers))
		}
	}
	return &flooder{h: h, jobs: tp}
}

// request publishes a valid request claiming client as its client.
func (f *flooder) request(t *testing.T, client string, s *job.Spec) {
	t.Helper()
	if err := f.try(client, s); err != nil {
		t.Fatal(err)
	}
}

func (f *flooder) try(client string, s *job.Spec, opts ...pubsub.PubOpt) error {
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	r := job.NewRequest(job.NewID(s, client, nonce).String(), client, s, time.Now().Add(time.Second).UnixMilli())
	// Answers by gossip asked for: the claimed clients are connected to no
	// provider, and a flooder asks for the most its requests can cost.
	r.GossipBids = true
	if err := f.jobs.Publish(context.Background(), job.Encode(r), opts...); err != nil {
		return fmt.Errorf("publishing: %w", err)
	}
	return nil
}

// bidsOf returns how many standing bids provider n keeps for a client.
func (n *Node) bidsOf(client string) int {
	_, count := n.provider.Committed(client)
	return count
}

// committed returns what a client's standing bids at provider n commit.
func (n *Node) committed(client string) job.Credits {
	c, _ := n.provider.Committed(client)
	return c
}

// One peer floods valid job requests far over the per-author rate while a
// forger publishes requests in another's name: providers answer at most
// the bucket's share of the flood and ignore the rest, the honest client's
// job completes, the gossip relay and the honest peers keep a score of 0 or
// more, and the forger's falls below 0.
func TestRequestFloodIsBounded(t *testing.T) {
	ctx := context.Background()
	const network = "test-flood"
	const rate, burst = 20, 40
	relay, err := New(ctx, Config{Mode: ModeClient, Network: network, RelayService: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { relay.Close() })
	// As it is once a peer behind NAT has reserved a slot on it: a member
	// of every topic, forwarding the flood.
	if err := relay.Mesh().RelayGossip(); err != nil {
		t.Fatal(err)
	}
	boot := relay.Mesh().Addrs()[0].String()
	cfg := func(region string) Config {
		return Config{Region: region, Rates: job.Rates{CPUHour: job.Nano}, RequestRate: rate, RequestBurst: burst,
			BidGrace: 10 * time.Minute, Capacity: job.Resources{CPUMillis: 4000, MemoryBytes: 4 << 30}}
	}
	var provs []*Node
	for _, region := range []string{"eu-west", "us-east"} {
		c := cfg(region)
		c.Mode, c.Network, c.Bootstrap, c.Hardware = ModeProvider, network, []string{boot}, testHardware(t)
		p, err := New(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		provs = append(provs, p)
	}
	client, err := New(ctx, Config{Mode: ModeClient, Network: network, Ephemeral: true, Bootstrap: []string{boot},
		HeartbeatTimeout: testHeartbeatTimeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := client.Mesh().WaitProviders(wctx, len(provs)); err != nil {
		t.Fatal(err)
	}

	flood := newFlooder(t, network, append([]*Node{relay}, provs...))
	forger := newFlooder(t, network, append([]*Node{relay}, provs...))
	spec := helloSpec(t, nil).Spec
	start := time.Now()
	const sent = 2000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range sent {
			err := flood.try(flood.h.ID().String(), spec)
			if i%100 == 0 && err == nil {
				err = forger.try(client.ID().String(), spec) // in the honest client's name
			}
			if err != nil {
				t.Error(err)
				return
			}
		}
	}()
	out := submit(t, client, helloSpec(t, nil), nil)
	<-done
	if out.State != job.StateCompleted {
		t.Fatalf("honest job during the flood: state %s: %s", out.State, out.Error)
	}
	for _, p := range provs {
		waitFor(t, "requests over the rate to be ignored", func() bool { return p.Mesh().Drops().OverRate.Load() > 0 })
	}
	time.Sleep(time.Second) // let the last of the flood arrive
	elapsed := time.Since(start)
	limit := burst + int(rate*elapsed.Seconds()) + 1
	for i, p := range provs {
		got := p.bidsOf(flood.h.ID().String())
		t.Logf("provider %d: %d bids for %d flooded requests in %v (limit %d), %d ignored over the rate, %d rejected",
			i, got, sent, elapsed.Round(time.Millisecond), limit, p.Mesh().Drops().OverRate.Load(), p.Mesh().Drops().Total())
		if got == 0 || got > limit {
			t.Errorf("provider %d answered %d of the flood; want 1 to %d (burst %d + %d/s)", i, got, limit, burst, rate)
		}
	}
	for i, p := range provs {
		waitFor(t, "the forger's score to fall below 0", func() bool {
			v, ok := p.Mesh().PeerScores()[forger.h.ID()]
			return ok && v < 0
		})
		s := p.Mesh().PeerScores()
		for name, id := range map[string]peer.ID{"relay": relay.ID(), "flooder (over the rate: ignored)": flood.h.ID()} {
			if v, ok := s[id]; !ok || v < 0 {
				t.Errorf("provider %d scores the %s %v (known %v); want 0 or more", i, name, v, ok)
			}
		}
		t.Logf("provider %d scores: relay %.1f, flooder %.1f, forger %.1f", i, s[relay.ID()], s[flood.h.ID()], s[forger.h.ID()])
	}
}

// A bare GossipSub peer (it does not speak the bid protocol, so it waits
// for no bid) that floods requests costs a provider nothing once its first
// bid's stream is refused: no bid is made, kept, sent or gossiped for it.
func TestBareFlooderGetsNoBids(t *testing.T) {
	t.Parallel()
	const network = "test-flood-bare"
	_, provs := meshOf(t, network, Config{Region: "eu-west", Rates: job.Rates{CPUHour: job.Nano},
		BidGrace: 10 * time.Minute, Capacity: job.Resources{CPUMillis: 4000, MemoryBytes: 4 << 30}})
	p := provs[0]
	f := gossipFlooder(t, network, provs, false)
	who := f.h.ID().String()
	spec := helloSpec(t, nil).Spec
	c := p.Mesh().BidCounts()
	// Requests until an answer goes to the bid stream and is refused (the
	// flooder's requests ask for gossip too, so an answer may be gossiped
	// before its stream is tried).
	waitFor(t, "a bid's stream to be refused", func() bool {
		f.request(t, who, spec)
		time.Sleep(50 * time.Millisecond)
		return c.Refused.Load() > 0
	})
	kept, gossiped, refused := p.bidsOf(who), c.Gossiped.Load(), c.Refused.Load()
	const more = 200
	for range more {
		f.request(t, who, spec)
	}
	waitFor(t, "every later request to be skipped", func() bool { return c.Refused.Load() >= refused+more })
	if got := p.bidsOf(who); got != kept {
		t.Errorf("the provider keeps %d bids for the bare peer, %d before its flood; want no more", got, kept)
	}
	if got := c.Gossiped.Load(); got > gossiped+1 { // at most a market sample
		t.Errorf("%d bids gossiped during the bare peer's flood; want none", got-gossiped)
	}
}

// On a network with credits, the bids a provider keeps for one client
// never commit more than the client's balance; once they expire, the
// credits are free again.
func TestStandingBidsCoveredByBalance(t *testing.T) {
	t.Parallel()
	const network = "test-flood-funds"
	_, provs := meshOf(t, network, Config{Region: "eu-west", Rates: job.Rates{CPUHour: job.Nano}, Faucet: testfaucet.ID,
		BidGrace: 3 * time.Second, Capacity: job.Resources{CPUMillis: 4000, MemoryBytes: 4 << 30}})
	p := provs[0]
	f := newFlooder(t, network, provs)
	who := f.h.ID().String()
	const balance = 10 * job.Nano
	g, err := SignGrant(testfaucet.Key(), network, who, balance)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AddGrant(context.Background(), g); err != nil {
		t.Fatal(err)
	}
	// 4 cores for an hour at 1 credit per core-hour: 4 credits a bid.
	spec := helloSpec(t, func(s *job.Spec) { s.Resources.CPUMillis = 4000; s.TimeoutMS = 3_600_000 }).Spec
	for range 6 {
		f.request(t, who, spec)
	}
	waitFor(t, "the provider to answer", func() bool { return p.committed(who) > 0 })
	time.Sleep(500 * time.Millisecond)
	got, n := p.committed(who), p.bidsOf(who)
	t.Logf("balance %s: %d standing bids commit %s", balance, n, got)
	if got > balance || n != 2 {
		t.Fatalf("%d standing bids commit %s for a balance of %s; want 2 bids of 4 credits", n, got, balance)
	}
	waitFor(t, "the losing bids to expire", func() bool { return p.committed(who) == 0 })
	f.request(t, who, spec)
	waitFor(t, "a bid once the credits are free", func() bool { return p.committed(who) > 0 })
}

// A losing bid is dropped soon after its window; the backups the client
// holds when it awards keep theirs until the job ends, so a winner that
// dies late in its run is still replaced.
func TestBackupsHeldLosersDropped(t *testing.T) {
	t.Parallel()
	const network = "test-flood-hold"
	var cfgs []Config
	for _, r := range []string{"0.5", "0.6", "0.7", "0.9"} {
		rate, err := job.ParseCredits(r)
		if err != nil {
			t.Fatal(err)
		}
		cfgs = append(cfgs, Config{Region: "eu-west", Rates: job.Rates{CPUHour: rate}, BidGrace: time.Second,
			Capacity: job.Resources{CPUMillis: 4000, MemoryBytes: 4 << 30}})
	}
	client, provs := meshWithClient(t, network, Config{BidGrace: time.Second}, cfgs...)
	sub := guestSpec(t, "sleep", "12s")
	sub.Spec.Policy = job.PolicyCost
	var once sync.Once
	out := submit(t, client, sub, func(e job.Event) {
		if e.Kind != job.EventRunning || e.Provider != provs[0].ID().String() {
			return
		}
		once.Do(func() {
			go func() {
				// Well past the losers' window, skew and grace.
				deadline := time.Now().Add(8 * time.Second)
				for time.Now().Before(deadline) {
					if n, _ := provs[3].StandingBids(); n == 0 {
						break
					}
					time.Sleep(50 * time.Millisecond)
				}
				for i, p := range provs[1:] {
					n, held := p.StandingBids()
					t.Logf("provider %d: %d standing, %d held", i+1, n, held)
					want := 1
					if i == 2 {
						want = 0 // not a backup: dropped
					}
					if held != want || n != want {
						t.Errorf("provider %d keeps %d bids (%d held), want %d", i+1, n, held, want)
					}
				}
				provs[0].Close()
			}()
		})
	})
	if out.State != job.StateCompleted || out.Provider != provs[1].ID().String() || out.Attempts != 2 {
		t.Fatalf("state %s on %s after %d attempts (%s); want completed on the first backup %s after 2", out.State, out.Provider, out.Attempts, out.Error, provs[1].ID())
	}
}

// On a network with credits, requests signed by keys that cannot pay (a
// flood spread over throw-away keys) stop at the first node they reach: it
// ignores them, and the other providers never see them; a funded key's
// requests, relayed the same way, reach every provider.
func TestUnfundedKeysStopAtTheFirstNode(t *testing.T) {
	t.Parallel()
	const network = "test-flood-unfunded"
	cfg := Config{Region: "eu-west", Rates: job.Rates{CPUHour: job.Nano}, Faucet: testfaucet.ID,
		Capacity: job.Resources{CPUMillis: 4000, MemoryBytes: 4 << 30}}
	_, provs := meshOf(t, network, cfg, cfg, cfg)
	first := provs[0]
	f := gossipFlooder(t, network, provs[:1], true)
	var broke []crypto.PrivKey
	for range 20 {
		k, _, err := crypto.GenerateEd25519Key(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		broke = append(broke, k)
	}
	funded, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	fundedID, _ := peer.IDFromPrivateKey(funded)
	g, err := SignGrant(testfaucet.Key(), network, fundedID.String(), 1000*job.Nano)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.AddGrant(context.Background(), g); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every provider to learn the grant", func() bool {
		for _, p := range provs {
			if !p.credits.CanPay(fundedID) {
				return false
			}
		}
		return true
	})
	spec := helloSpec(t, nil).Spec
	publish := func(k crypto.PrivKey) {
		t.Helper()
		id, _ := peer.IDFromPrivateKey(k)
		if err := f.try(id.String(), spec, pubsub.WithSecretKeyAndPeerId(k, id)); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range broke {
		publish(k)
	}
	// The first provider forwards the funded key's requests once its
	// GossipSub mesh has formed: they go out until every provider bids.
	waitFor(t, "every provider to bid for the funded key's requests", func() bool {
		publish(funded)
		time.Sleep(100 * time.Millisecond)
		for _, p := range provs {
			if p.bidsOf(fundedID.String()) == 0 {
				return false
			}
		}
		return true
	})
	waitFor(t, "the first provider to ignore every unfunded request", func() bool {
		return first.mesh.Drops().Unfunded.Load() == int64(len(broke))
	})
	for i, p := range provs {
		if i > 0 && p.mesh.Drops().Unfunded.Load() != 0 {
			t.Errorf("provider %d saw %d unfunded requests: the first node forwarded them", i, p.mesh.Drops().Unfunded.Load())
		}
		for _, k := range broke {
			id, _ := peer.IDFromPrivateKey(k)
			if n := p.bidsOf(id.String()); n != 0 {
				t.Errorf("provider %d keeps %d bids for an unfunded key", i, n)
			}
		}
		if n := p.mesh.Drops().Total(); n != 0 {
			t.Errorf("provider %d rejected %d messages: ignoring holds nothing against the relay", i, n)
		}
	}
}
