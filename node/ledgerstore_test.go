package node

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/computemesh/computemesh/internal/testfaucet"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/ledger"
	"github.com/libp2p/go-libp2p/core/peer"
)

// holds reports whether n's ledger holds the receipt with r's ID.
func holds(n *Node, r job.Receipt) bool {
	for _, o := range n.book.Receipts(r.Payer, 1<<16) {
		if o.ID() == r.ID() {
			return true
		}
	}
	return false
}

// A receipt goes to its parties and to the holders of its payer's and its
// payee's accounts, not to every node: on a mesh of ten providers, each
// receipt is held by the holders of its payer's account (who answer a
// judge) and by no node outside its recipients.
func TestReceiptsGoToTheirHolders(t *testing.T) {
	const network = "test-holders"
	cfgs := make([]Config, 10)
	for i := range cfgs {
		cfgs[i] = Config{Region: "eu-west", Rates: job.Rates{CPUHour: job.Nano}, Faucet: testfaucet.ID}
	}
	_, provs := meshOf(t, network, cfgs...)
	client := fundedClient(t, network, provs, Config{Ephemeral: true}, 100*job.Nano)
	for range 4 {
		if out := submit(t, client, helloSpec(t, nil), nil); out.State != job.StateCompleted {
			t.Fatalf("job: %s (%s)", out.State, out.Error)
		}
	}
	self := client.ID().String()
	rs := client.book.Receipts(self, 100)
	if len(rs) != 4 {
		t.Fatalf("the client holds %d receipts, want 4", len(rs))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	holdersOf := func(account string) []string { return peerStrings(client.holders(ctx, account)) }
	if got := holdersOf(self); len(got) != ledger.HolderCount {
		t.Fatalf("the client's account has %d holders, want %d", len(got), ledger.HolderCount)
	}
	outside := 0
	for _, r := range rs {
		want := ledger.Recipients(&r, r.Payee, holdersOf)
		for _, h := range holdersOf(self) {
			p := providerByID(t, provs, h)
			waitFor(t, "a holder of the payer's account to hold the receipt", func() bool { return holds(p, r) })
		}
		for _, p := range provs {
			id := p.ID().String()
			if id == r.Payee || slices.Contains(want, id) {
				continue
			}
			outside++
			if holds(p, r) {
				t.Errorf("provider %s holds receipt %d of %s: neither a party nor a holder", id, r.Seq, r.Payer)
			}
		}
	}
	if outside == 0 {
		t.Fatalf("every provider was a recipient of every receipt: the mesh is too small to tell")
	}
}

func providerByID(t *testing.T, provs []*Node, id string) *Node {
	t.Helper()
	for _, p := range provs {
		if p.ID().String() == id {
			return p
		}
	}
	t.Fatalf("holder %s is not one of the providers", id)
	return nil
}

// Attack: a client hides its spending from a provider that joins later (it
// does not answer the provider's sync at all). The provider judges the
// client from the holders of its account, which its earlier provider sent
// the receipt to: it sees the grant and the spending, verified.
func TestJudgeFindsSpendingAtTheHolders(t *testing.T) {
	const network = "test-judge"
	cfg := Config{Region: "eu-west", Rates: job.Rates{CPUHour: 3600 * job.Nano}, Faucet: testfaucet.ID}
	_, provs := meshOf(t, network, cfg, cfg, cfg)
	client := fundedClient(t, network, provs, Config{Ephemeral: true}, 100*job.Nano)
	first := submit(t, client, helloSpec(t, nil), nil)
	if first.State != job.StateCompleted || first.Charge == 0 {
		t.Fatalf("first job: %s, charge %s (%s)", first.State, first.Charge, first.Error)
	}
	self := client.ID().String()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, h := range client.holders(ctx, self) {
		if h == client.ID() {
			continue
		}
		p := providerByID(t, provs, h.String())
		waitFor(t, "the holders to hold the client's receipt", func() bool { return p.book.Balance(self).Spent == first.Charge })
	}
	client.mesh.Host().RemoveStreamHandler(client.mesh.Protocol(syncProto)) // the client tells nothing

	late := cfg
	late.Region, late.Mode, late.Network, late.Hardware = "us-east", ModeProvider, network, testHardware(t)
	late.Bootstrap = []string{provs[0].Mesh().Addrs()[0].String()}
	p, err := New(context.Background(), late)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := client.Mesh().Connect(ctx, peer.AddrInfo{ID: p.ID(), Addrs: p.Mesh().Host().Addrs()}); err != nil {
		t.Fatal(err)
	}
	if err := client.Mesh().WaitProviders(ctx, 4); err != nil {
		t.Fatal(err)
	}
	if b := p.book.Balance(self); b.Receipts != 0 {
		t.Fatalf("the late provider holds %d receipts of the client already: the test needs none", b.Receipts)
	}
	out := submit(t, client, helloSpec(t, func(s *job.Spec) { s.Region = "us-east" }), nil)
	if out.State != job.StateCompleted || out.Provider != p.ID().String() {
		t.Fatalf("state %s on %s (%s); want completed by the late provider; unfunded drops %d", out.State, out.Provider, out.Error, p.mesh.Drops().Unfunded.Load())
	}
	if b := p.book.Balance(self); b.Granted != 100*job.Nano || b.Spent < first.Charge {
		t.Fatalf("the late provider's view of the client: %+v; want the grant and the first job's %s spent", b, first.Charge)
	}
}
