package node

import (
	"bufio"
	"context"

	"testing"
	"time"

	"github.com/computemesh/computemesh/internal/testfaucet"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/mesh"
	"github.com/computemesh/computemesh/scheduler"
	"github.com/libp2p/go-libp2p/core/peer"
)

// claimMesh is one provider charging a credit per core-second on a network
// with credits, and a client funded with 100 credits.
func claimMesh(t *testing.T, network string) (client *Node, prov *Node) {
	t.Helper()
	_, provs := meshOf(t, network, Config{Region: "eu-west", Rates: job.Rates{CPUHour: 3600 * job.Nano}, Faucet: testfaucet.ID})
	return fundedClient(t, network, provs, Config{Ephemeral: true}, 100*job.Nano), provs[0]
}

// A run the client cancels pays for the time it ran: the provider claims
// it on the client's authorisation, and the claim fills the slot the
// authorisation took in the client's chain, so it counts everywhere.
func TestCancelledRunIsClaimed(t *testing.T) {
	t.Parallel()
	client, prov := claimMesh(t, "test-claim-cancel")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub := guestSpec(t, "sleep", "60s")
	sub.Spec.TimeoutMS = 90_000
	done := make(chan *job.Outcome, 1)
	go func() {
		out, _ := client.Submit(ctx, sub, func(e job.Event) {
			if e.Kind == job.EventRunning {
				time.AfterFunc(1500*time.Millisecond, cancel)
			}
		})
		done <- out
	}()
	select {
	case out := <-done:
		if out == nil || out.State != job.StateCancelled {
			t.Fatalf("outcome %+v, want cancelled", out)
		}
	case <-time.After(120 * time.Second):
		t.Fatal("the cancelled job never ended")
	}
	self := client.ID().String()
	waitFor(t, "the provider's claim to count", func() bool { return prov.book.Balance(self).Spent > 0 })
	spent := prov.book.Balance(self).Spent
	if spent < job.Nano || spent > 90*job.Nano {
		t.Fatalf("claimed %s credits for a run of about 1.5 s at 1 credit a second", spent)
	}
	waitFor(t, "the client's ledger to count the claim", func() bool { return client.book.Balance(self).Spent == spent })
	if got := client.book.Balance(self); got.Balance != 100*job.Nano-spent || got.Pending != 0 {
		t.Fatalf("client in its own ledger: %+v; want 100 − %s, nothing pending (its void is superseded)", got, spent)
	}
	if got := prov.credits.Owes(self); got != 0 {
		t.Fatalf("the claimed run still owed: %s", got)
	}
}

// Attack: a client that resets the award stream when the receipt is due
// (it has the result) pays all the same, by the provider's claim; the void
// it publishes afterwards for the slot does not undo the claim.
func TestResetAtTheReceiptIsClaimed(t *testing.T) {
	t.Parallel()
	client, prov := claimMesh(t, "test-claim-reset")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	sub := helloSpec(t, nil)
	id, nonce, ranked, err := client.client.Auction(ctx, sub)
	if err != nil || len(ranked) == 0 {
		t.Fatalf("auction: %v, %d bids", err, len(ranked))
	}
	o := ranked[0]
	a := &job.Award{V: job.Version, Job: id, Client: client.ID().String(), Nonce: nonce, Spec: *sub.Spec, Bid: o.Bid, Attempt: 1}
	if a.Auth, err = client.credits.Authorize(context.Background(), a, scheduler.Pay(sub.Spec.Auction, ranked, 0)); err != nil {
		t.Fatal(err)
	}
	p, err := peer.Decode(o.Bid.Provider)
	if err != nil {
		t.Fatal(err)
	}
	client.content.Grant(p, time.Now().Add(time.Minute), sub.Spec.Module)
	st, err := client.mesh.Host().NewStream(ctx, p, client.mesh.Protocol("award"))
	if err != nil {
		t.Fatal(err)
	}
	if err := mesh.WriteMsg(st, a); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(st)
	var res *job.Result
	for res == nil {
		var reply job.Reply
		if err := mesh.ReadMsg(r, job.MaxReplySize, &reply); err != nil {
			t.Fatalf("reading the award stream: %v", err)
		}
		if reply.Type == job.ReplyDeclined {
			t.Fatalf("declined: %s", reply.Reason)
		}
		res = reply.Result
	}
	_ = st.Reset() // the receipt is due: the hostile client leaves
	if res.Error != "" || res.Charge == 0 {
		t.Fatalf("result: %+v; want a charged run", res)
	}
	self := client.ID().String()
	waitFor(t, "the provider's claim", func() bool { return prov.book.Balance(self).Spent == res.Charge })
	client.credits.VoidUnpaid(a.Auth) // and then it publishes a void for the slot
	waitFor(t, "the client's own ledger to hold the claim", func() bool { return client.book.Balance(self).Spent == res.Charge })
	time.Sleep(200 * time.Millisecond)
	if got := prov.book.Balance(self); got.Spent != res.Charge || got.Balance != 100*job.Nano-res.Charge {
		t.Fatalf("after the client's void: %+v; want the claim of %s to stand", got, res.Charge)
	}
}
