package node

import (
	"bufio"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/mesh"
	"github.com/libp2p/go-libp2p/core/peer"
)

// A client that gossips a small request and then awards a bigger spec under
// the same job ID must be declined: what was bid on is what is awarded.
func TestProviderDeclinesAwardOfAnotherSpec(t *testing.T) {
	t.Parallel()
	client, provs := testMesh(t, []provSpec{{"eu-west", "1.0"}, {"us-east", "2.0"}})
	prov := provs[0]
	big := helloSpec(t, func(s *job.Spec) { s.Resources.CPUMillis = 2000; s.TimeoutMS = 3_600_000 }).Spec
	small := *big
	small.Resources.CPUMillis, small.TimeoutMS = 1000, 10_000
	nonce := []byte("0123456789abcdef")
	id := job.NewID(big, client.ID().String(), nonce).String()

	bids := make(chan job.Bid, 4)
	if err := client.Mesh().OnBid(func(b *job.Bid, _ peer.ID) {
		if b.Job == id && b.Provider == prov.ID().String() {
			bids <- *b
		}
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := client.Mesh().WaitProviders(ctx, 1); err != nil {
		t.Fatal(err)
	}
	// The gossiped request claims the small spec's requirements.
	req := job.NewRequest(id, client.ID().String(), &small, time.Now().Add(10*time.Second).UnixMilli())
	var bid job.Bid
	for bid.Job == "" {
		if err := client.Mesh().PublishRequest(ctx, req); err != nil {
			t.Fatal(err)
		}
		select {
		case bid = <-bids:
		case <-time.After(time.Second):
		case <-ctx.Done():
			t.Fatal("no bid from the provider")
		}
	}
	if err := client.Mesh().Connect(ctx, peer.AddrInfo{ID: prov.ID(), Addrs: prov.Mesh().Host().Addrs()}); err != nil {
		t.Fatal(err)
	}
	s, err := client.Mesh().Host().NewStream(ctx, prov.ID(), client.Mesh().Protocol("award"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	award := job.Award{V: job.Version, Job: id, Client: client.ID().String(), Nonce: nonce, Spec: *big, Bid: bid, Attempt: 1}
	if err := mesh.WriteMsg(s, &award); err != nil {
		t.Fatal(err)
	}
	var reply job.Reply
	if err := mesh.ReadMsg(bufio.NewReader(s), job.MaxReplySize, &reply); err != nil {
		t.Fatal(err)
	}
	if reply.Type != job.ReplyDeclined || !strings.Contains(reply.Reason, "does not match the request") {
		t.Fatalf("reply %+v; want a decline saying the spec does not match the request", reply)
	}
}
