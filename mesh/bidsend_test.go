package mesh

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/peer"
)

// bidLog collects the bids a node's handler receives.
type bidLog struct {
	mu   sync.Mutex
	jobs map[string]int
}

func (l *bidLog) handler(b *job.Bid, _ peer.ID) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.jobs[b.Job]++
}

func (l *bidLog) count(jobs []string) (n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, j := range jobs {
		n += l.jobs[j]
	}
	return n
}

func listening(t *testing.T, network string) *Mesh {
	t.Helper()
	m, err := New(context.Background(), Network(network), Listen("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func connect(t *testing.T, a, b *Mesh) {
	t.Helper()
	if err := a.Connect(context.Background(), peer.AddrInfo{ID: b.ID(), Addrs: b.Host().Addrs()}); err != nil {
		t.Fatal(err)
	}
}

func testBid(provider *Mesh, i int) *job.Bid {
	return &job.Bid{V: job.Version, Job: job.ModuleCID(fmt.Appendf(nil, "job %d", i)).String(),
		Provider: provider.ID().String(), Price: 1, Region: "eu-west", ExpiresMS: time.Now().Add(time.Minute).UnixMilli()}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after a minute: %s", what)
		}
	}
}

// A provider's bids reach the client that asked on a stream, not every
// node: a bystander on the bids topic hears only what was gossiped (the
// market's sample). A client the provider has no connection to still
// hears its bids, by gossip through a bystander.
func TestBidsGoToTheirClient(t *testing.T) {
	const netName = "test-bidsend"
	prov, client, bystander, far := listening(t, netName), listening(t, netName), listening(t, netName), listening(t, netName)
	connect(t, client, prov)
	connect(t, bystander, prov)
	connect(t, bystander, client)
	connect(t, far, bystander)
	logs := map[*Mesh]*bidLog{}
	for _, m := range []*Mesh{client, bystander, far} {
		l := &bidLog{jobs: map[string]int{}}
		logs[m] = l
		if err := m.OnBid(l.handler); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the provider sees the client and the bystander on the bids topic, the bystander the far client", func() bool {
		p, b := prov.topics.bids.ListPeers(), bystander.topics.bids.ListPeers()
		return slices.Contains(p, client.ID()) && slices.Contains(p, bystander.ID()) && slices.Contains(b, far.ID())
	})

	var toClient []string
	start := time.Now()
	for i := range 50 {
		b := testBid(prov, i)
		toClient = append(toClient, b.Job)
		if err := prov.SendBid(t.Context(), b, client.ID()); err != nil {
			t.Fatalf("bid %d: %v", i, err)
		}
	}
	// Every bid goes on the client's stream; the market sample (one here:
	// the bids go out within a second) is gossiped besides, so the client
	// may hear it twice (an auction keeps a provider's first answer).
	waitFor(t, "every bid went on the client's stream", func() bool { return prov.BidCounts().Direct.Load() == 50 })
	gossiped, most := prov.BidCounts().Samples.Load(), 1+int64(time.Since(start)/time.Second)
	if gossiped < 1 || gossiped > most || prov.BidCounts().Gossiped.Load() != 0 {
		t.Fatalf("%d bids gossiped as market samples, %d otherwise; want 1 to %d samples (one a second), nothing else",
			gossiped, prov.BidCounts().Gossiped.Load(), most)
	}
	waitFor(t, "the client has every bid", func() bool { return logs[client].count(toClient) >= 50 })
	waitFor(t, "the bystander has the gossiped sample", func() bool { return logs[bystander].count(toClient) >= int(gossiped) })
	time.Sleep(time.Second) // anything more would have arrived by now
	if got := logs[bystander].count(toClient); got != int(gossiped) {
		t.Fatalf("the bystander heard %d of the client's bids, want the %d gossiped", got, gossiped)
	}

	// The DHT may have connected the provider to the far client meanwhile:
	// cut that, so that its bids must go by gossip.
	_ = prov.Host().Network().ClosePeer(far.ID())
	prov.Host().Peerstore().ClearAddrs(far.ID())
	before := prov.BidCounts().Gossiped.Load()
	var toFar []string
	for i := range 5 {
		b := testBid(prov, 100+i)
		toFar = append(toFar, b.Job)
		if err := prov.SendBid(t.Context(), b, far.ID()); err != nil {
			t.Fatalf("bid to the far client: %v", err)
		}
	}
	if n := prov.BidCounts().Gossiped.Load() - before; n != 5 {
		t.Fatalf("%d of 5 bids to a client with no connection were gossiped", n)
	}
	waitFor(t, "the far client has its bids by gossip", func() bool { return logs[far].count(toFar) == 5 })
}

// What a peer writes on the bid protocol is checked: a bid in another
// provider's name or a frame over the size limit ends the stream, is
// counted and never reaches the handler.
func TestHostileBidStream(t *testing.T) {
	const netName = "test-bidsend-hostile"
	client, prov := listening(t, netName), listening(t, netName)
	l := &bidLog{jobs: map[string]int{}}
	if err := client.OnBid(l.handler); err != nil {
		t.Fatal(err)
	}
	atk, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { atk.Close() })
	if err := atk.Connect(t.Context(), peer.AddrInfo{ID: client.ID(), Addrs: client.Host().Addrs()}); err != nil {
		t.Fatal(err)
	}
	send := func(frame func(w *bufio.Writer)) {
		s, err := atk.NewStream(t.Context(), client.ID(), client.Protocol(bidProto))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		w := bufio.NewWriter(s)
		frame(w)
		_ = w.Flush()
	}
	forged := testBid(prov, 1) // in the provider's name, sent by the attacker
	send(func(w *bufio.Writer) { _ = WriteMsg(w, forged) })
	waitFor(t, "the forged bid is counted", func() bool { return client.Drops().Forged.Load() == 1 })
	send(func(w *bufio.Writer) {
		var hdr [binary.MaxVarintLen64]byte
		_, _ = w.Write(hdr[:binary.PutUvarint(hdr[:], job.MaxGossipSize+1)])
	})
	waitFor(t, "the oversized frame is counted", func() bool { return client.Drops().Oversize.Load() == 1 })
	send(func(w *bufio.Writer) { _ = WriteFrame(w, []byte("not a bid")) })
	waitFor(t, "the garbage is counted", func() bool { return client.Drops().Decode.Load() == 1 })
	if n := l.count([]string{forged.Job}); n != 0 {
		t.Fatalf("the handler got the forged bid %d times", n)
	}
}

// A connected peer that does not speak the bid protocol is not waiting for
// bids: once its stream is refused, its bids are neither sent nor gossiped
// (a bare GossipSub peer flooding requests costs no node a bid's
// verification); only the second's market sample goes out. Nothing waits
// on it.
func TestBidsToClientWithoutTheProtocol(t *testing.T) {
	prov := listening(t, "test-bidsend-noproto")
	raw, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	if err := raw.Connect(t.Context(), peer.AddrInfo{ID: prov.ID(), Addrs: prov.Host().Addrs()}); err != nil {
		t.Fatal(err)
	}
	const n = gossipBidBurst + 50
	for i := range n {
		if err := prov.SendBid(t.Context(), testBid(prov, i), raw.ID()); err != nil && !errors.Is(err, ErrBidShed) {
			t.Fatalf("bid %d: %v", i, err)
		}
	}
	c := prov.BidCounts()
	waitFor(t, "every bid is sent, gossiped or shed", func() bool { return c.Direct.Load()+c.Gossiped.Load()+c.Shed.Load() == n })
	if c.Direct.Load() != 0 || c.Gossiped.Load() > 2 || c.Refused.Load() < n-2 {
		t.Fatalf("direct %d, gossiped %d, shed %d (refused %d): want none direct, market samples alone gossiped, the rest refused",
			c.Direct.Load(), c.Gossiped.Load(), c.Shed.Load(), c.Refused.Load())
	}
}

// TestUnconnectedClientsAskedByGossipOnly: a provider answers a client it
// has no connection to only when the request asks for answers by gossip
// (job.Request.GossipBids); otherwise the answer is shed and counted, so
// that a request flooded to every provider of a large network costs no
// node a verification per provider.
func TestUnconnectedClientsAskedByGossipOnly(t *testing.T) {
	const netName = "test-bidsend-unconnected"
	prov, client, far := listening(t, netName), listening(t, netName), listening(t, netName)
	connect(t, client, prov)
	if !prov.TakesBids(client.ID(), false) {
		t.Fatal("a connected client's request went unanswered")
	}
	if prov.TakesBids(far.ID(), false) {
		t.Fatal("a provider would answer a client it is not connected to, which did not ask for gossip")
	}
	if n := prov.BidCounts().Unconnected.Load(); n != 1 {
		t.Fatalf("%d answers counted as shed for an unconnected client, want 1", n)
	}
	if !prov.TakesBids(far.ID(), true) {
		t.Fatal("a request asking for answers by gossip went unanswered by a provider not connected to its client")
	}
}

// A network's market samples stay about sampleProviders a second in all:
// each provider samples once a second among up to 16 providers it knows,
// proportionally less often among more.
func TestSampleInterval(t *testing.T) {
	for _, tt := range []struct {
		known int
		want  time.Duration
	}{{0, time.Second}, {6, time.Second}, {16, time.Second}, {32, 2 * time.Second}, {256, 16 * time.Second}} {
		if got := sampleInterval(tt.known); got != tt.want {
			t.Errorf("sampleInterval(%d) = %v, want %v", tt.known, got, tt.want)
		}
	}
}
