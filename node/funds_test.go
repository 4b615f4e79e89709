package node

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/computemesh/computemesh/internal/testfaucet"
	"github.com/computemesh/computemesh/job"
)

// On a network with a faucet: a client without credits is refused (funds);
// a grant signed by the faucet funds it; a grant it signs itself is
// refused; a double spend (two receipts with one sequence number) is found
// by the holders of the payer's account, gossiped, and every provider
// refuses the payer from then on.
func TestFundsGrantsAndDoubleSpend(t *testing.T) {
	t.Parallel()
	const network = "test-funds"
	small := job.Resources{CPUMillis: 4000, MemoryBytes: 2 << 30}
	_, provs := meshOf(t, network,
		Config{Region: "eu-west", Rates: job.Rates{CPUHour: job.Nano}, Capacity: small, Faucet: testfaucet.ID},
		Config{Region: "us-east", Rates: job.Rates{CPUHour: 2 * job.Nano}, Capacity: small, Faucet: testfaucet.ID})
	// A client that knows the network's faucet (its own ledger counts grants).
	client, err := New(context.Background(), Config{Mode: ModeClient, Network: network, Ephemeral: true, Faucet: testfaucet.ID,
		Bootstrap: []string{provs[0].Mesh().Addrs()[0].String()}, HeartbeatTimeout: testHeartbeatTimeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	wctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := client.Mesh().WaitProviders(wctx, len(provs)); err != nil {
		t.Fatal(err)
	}
	self := client.ID().String()

	out := submit(t, client, helloSpec(t, nil), nil)
	if out.State != job.StateUnscheduled || !strings.Contains(out.Error, "declined: funds") {
		t.Fatalf("unfunded client: state %s, error %q; want unscheduled, declined: funds", out.State, out.Error)
	}

	// A grant the client signs itself creates nothing.
	forged := &job.Grant{V: job.Version, Network: network, To: self, Amount: 100 * job.Nano, Nonce: "forged",
		TimeMS: time.Now().UnixMilli(), Faucet: self}
	if forged.Sig, err = client.credits.Sign(forged.SigningBytes()); err != nil {
		t.Fatal(err)
	}
	if err := client.AddGrant(context.Background(), forged); err == nil || !strings.Contains(err.Error(), "faucet") {
		t.Fatalf("a self-signed grant: %v; want it refused for its faucet", err)
	}

	g, err := SignGrant(testfaucet.Key(), network, self, 10*job.Nano)
	if err != nil {
		t.Fatal(err)
	}
	if err := client.AddGrant(context.Background(), g); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every provider to hear of the grant", func() bool {
		for _, p := range provs {
			if p.book.Balance(self).Granted != 10*job.Nano {
				return false
			}
		}
		return true
	})
	first := submit(t, client, helloSpec(t, nil), nil)
	if first.State != job.StateCompleted || first.Provider != provs[0].ID().String() {
		t.Fatalf("funded client: state %s on %s: %s", first.State, first.Provider, first.Error)
	}
	if b := client.book.Balance(self); b.Balance != 10*job.Nano-first.Charge {
		t.Fatalf("client balance %s, want the grant less the charge %s", b.Balance, first.Charge)
	}

	// The client cheats: it signs a second receipt with the sequence number
	// of the first, paying the other provider, which counter-signs it (it
	// has not heard of the first yet, or does not care).
	firstReceipt := receiptsIn(client, self, 1)[0]
	cheat := job.Receipt{V: job.Version, Network: network, Job: first.Job, Attempt: 2, Payer: self,
		Payee: provs[1].ID().String(), Amount: 1000, Seq: firstReceipt.Seq, TimeMS: time.Now().UnixMilli()}
	if cheat.PayerSig, err = client.credits.Sign(cheat.SigningBytes()); err != nil {
		t.Fatal(err)
	}
	if cheat.PayeeSig, err = provs[1].credits.Sign(cheat.SigningBytes()); err != nil {
		t.Fatal(err)
	}
	if _, err := provs[1].book.AddReceipt(&cheat); err != nil {
		t.Fatal(err)
	}
	provs[1].credits.PushRecord(&cheat) // to the holders of the client's account: the first provider among them
	waitFor(t, "every provider to hold the fraud proof", func() bool {
		for _, p := range provs {
			if !p.book.Fraudulent(self) {
				return false
			}
		}
		return true
	})
	// The fork ends the client's chain: neither receipt counts, whichever
	// came first (the provider paid by the first loses it), and no credit
	// is created.
	for _, v := range provs {
		if b := v.book.Balance(self); b.Spent != 0 || b.PendingOut != first.Charge+cheat.Amount || b.Balance != 10*job.Nano {
			t.Errorf("%s sees the cheat %+v; want nothing spent, both receipts %s + %s pending", v.ID(), b, first.Charge, cheat.Amount)
		}
	}
	out = submit(t, client, helloSpec(t, nil), nil)
	if out.State != job.StateUnscheduled || !strings.Contains(out.Error, "declined: funds") {
		t.Fatalf("after a double spend: state %s, error %q; want refused (funds)", out.State, out.Error)
	}
}

func TestTestFaucetRefusedOutsideTestNetworks(t *testing.T) {
	t.Parallel()
	_, err := New(context.Background(), Config{Mode: ModeClient, Network: "mainnet", Faucet: testfaucet.ID, Ephemeral: true})
	if err == nil || !strings.Contains(err.Error(), "refused on network") {
		t.Fatalf("the test faucet on network mainnet: %v; want refused", err)
	}
}

// waitFor polls cond for up to a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s", what)
		}
	}
}
