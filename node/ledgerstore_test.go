package node

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/computemesh/computemesh/credits"
	"github.com/computemesh/computemesh/internal/testfaucet"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/ledger"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/time/rate"
)

// receiptsIn returns up to max of peer's receipts in n's ledger, read back
// from its log (which must not fail).
func receiptsIn(n *Node, peer string, max int) []job.Receipt {
	rs, err := n.book.Receipts(peer, max)
	if err != nil {
		panic(err)
	}
	return rs
}

// holds reports whether n's ledger holds the receipt with r's ID.
func holds(n *Node, r job.Receipt) bool {
	for _, o := range receiptsIn(n, r.Payer, 1<<16) {
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
	t.Parallel()
	const network = "test-holders"
	cfgs := make([]Config, 10)
	for i := range cfgs {
		cfgs[i] = Config{Region: "eu-west", Rates: job.Rates{CPUHour: job.Nano}, Faucet: testfaucet.ID}
	}
	_, provs := meshOf(t, network, cfgs...)
	client := fundedClient(t, network, provs, Config{Ephemeral: true}, 100*job.Nano)
	// The providers hold the client's grant and judge it no more: a judge's
	// sync (due again 30 s later, which a loaded machine reaches within
	// these jobs) would fetch receipts from the holders, and this test
	// tells where the parties deliver them.
	for _, p := range provs {
		p.credits.Judged(client.ID().String(), time.Now().Add(time.Hour))
	}
	for range 4 {
		if out := submit(t, client, helloSpec(t, nil), nil); out.State != job.StateCompleted {
			t.Fatalf("job: %s (%s)", out.State, out.Error)
		}
	}
	self := client.ID().String()
	rs := receiptsIn(client, self, 100)
	if len(rs) != 4 {
		t.Fatalf("the client holds %d receipts, want 4", len(rs))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	holdersOf := func(account string) []string { return peerStrings(client.credits.Holders(ctx, account)) }
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

// peerStrings returns the IDs of ps as strings.
func peerStrings(ps []peer.ID) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
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
	t.Parallel()
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
	for _, h := range client.credits.Holders(ctx, self) {
		if h == client.ID() {
			continue
		}
		p := providerByID(t, provs, h.String())
		waitFor(t, "the holders to hold the client's receipt", func() bool { return p.book.Balance(self).Spent == first.Charge })
	}
	client.mesh.Host().RemoveStreamHandler(client.mesh.Protocol(credits.SyncProtocol)) // the client tells nothing

	p := lateProvider(t, cfg, "us-east", provs, client)
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

// receiptBy is a receipt from n (signed by it) to payee with sequence
// number seq, on n's network.
func receiptBy(t *testing.T, n *Node, payee string, seq uint64) job.Receipt {
	t.Helper()
	r := job.Receipt{V: job.Version, Network: n.mesh.NetworkName(), Job: "bafkreigbq32h2ndothmrbtrps5nfxzddy6jtsilkqtqeynhusawjofijra",
		Attempt: 1, Payer: n.ID().String(), Payee: payee, Amount: 1, Seq: seq, TimeMS: time.Now().UnixMilli()}
	sig, err := n.credits.Sign(r.SigningBytes())
	if err != nil {
		t.Fatal(err)
	}
	r.PayerSig = sig
	return r
}

// sendRecords sends records from one node to a holder, again when the
// holder's answer did not come in time (a loaded machine running the race
// detector can starve a holder for seconds); a refusal is returned at once.
func sendRecords(from, to *Node, rs []job.Receipt) error {
	var err error
	for range 5 {
		err = from.credits.SendRecords(context.Background(), to.ID().String(), rs)
		var timeout net.Error
		if err == nil || !errors.As(err, &timeout) || !timeout.Timeout() {
			return err
		}
	}
	return err
}

// Attacks on a holder: records of others sent by a peer that is neither
// party are refused; a peer sending its own records without end is cut
// off at its rate; a peer asking for syncs without end is not answered
// past its rate.
func TestHolderLimits(t *testing.T) {
	t.Parallel()
	const network = "test-holder-limits"
	_, provs := meshOf(t, network, Config{Region: "eu-west", Rates: job.Rates{CPUHour: job.Nano}, Faucet: testfaucet.ID})
	target := provs[0]
	mallory := fundedClient(t, network, provs, Config{Ephemeral: true}, 0)
	other := fundedClient(t, network, provs, Config{Ephemeral: true}, 0)

	t.Run("records of others", func(t *testing.T) {
		r := receiptBy(t, other, target.ID().String(), 1)
		err := mallory.credits.SendRecords(context.Background(), target.ID().String(), []job.Receipt{r})
		if err == nil || !strings.Contains(err.Error(), "neither its payer nor its payee") {
			t.Fatalf("a record of others: %v; want it refused", err)
		}
		if holds(target, r) {
			t.Fatal("the holder kept a record sent by neither party")
		}
	})
	// The buckets refill too slowly to matter here, however long the
	// machine takes to send each request (a busy -race run is slow).
	target.credits.SetStoreRate(rate.Every(time.Hour))
	target.credits.SetSyncRate(rate.Every(time.Hour))
	t.Run("a flood of its own records", func(t *testing.T) {
		var refused error
		sent := 0
		for seq := uint64(1); refused == nil && seq < 20_000; {
			batch := make([]job.Receipt, 0, ledger.MaxStoreRecords)
			for range ledger.MaxStoreRecords {
				batch = append(batch, receiptBy(t, mallory, other.ID().String(), seq))
				seq++
			}
			if err := sendRecords(mallory, target, batch); err != nil {
				refused = err
			} else {
				sent += len(batch)
			}
		}
		if refused == nil || !strings.Contains(refused.Error(), "records a second") {
			t.Fatalf("after %d records: %v; want the rate refused", sent, refused)
		}
		if got := target.book.Balance(mallory.ID().String()).Receipts; got > sent+ledger.MaxStoreRecords {
			t.Fatalf("the holder kept %d records of %d accepted", got, sent)
		}
	})
	t.Run("a flood of syncs", func(t *testing.T) {
		failed := 0
		for range 3 * credits.SyncBurst {
			if _, err := mallory.credits.SyncAccount(context.Background(), target.ID(), other.ID().String()); err != nil {
				failed++
			}
		}
		if failed == 0 {
			t.Fatalf("%d syncs in a row all answered: want those past %d refused", 3*credits.SyncBurst, credits.SyncBurst)
		}
	})
}

// A chain longer than one sync answer is fetched to its end: judged on
// its first ledger.MaxSyncRecords receipts only, the account would look
// richer than it is.
func TestSyncPagesALongChain(t *testing.T) {
	t.Parallel()
	const network = "test-sync-pages"
	cfg := Config{Region: "eu-west", Rates: job.Rates{CPUHour: job.Nano}, Faucet: testfaucet.ID}
	_, provs := meshOf(t, network, cfg, cfg)
	holder, judge := provs[0], provs[1]
	payer := fundedClient(t, network, provs, Config{Ephemeral: true}, job.Nano)
	payee := fundedClient(t, network, provs, Config{Ephemeral: true}, 0)
	holder.credits.SetStoreRate(rate.Inf)

	const n = ledger.MaxSyncRecords + 100
	for seq := uint64(1); seq <= n; {
		batch := make([]job.Receipt, 0, ledger.MaxStoreRecords)
		for ; len(batch) < ledger.MaxStoreRecords && seq <= n; seq++ {
			batch = append(batch, receiptBy(t, payer, payee.ID().String(), seq))
		}
		if err := sendRecords(payer, holder, batch); err != nil {
			t.Fatal(err)
		}
	}
	id := payer.ID().String()
	if got := holder.book.CountedChain(id); got != n {
		t.Fatalf("the holder counts %d of the payer's %d receipts", got, n)
	}
	if _, err := judge.credits.SyncAccount(context.Background(), holder.ID(), id); err != nil {
		t.Fatal(err)
	}
	if got := judge.book.CountedChain(id); got != n {
		t.Fatalf("after one sync the judge counts %d of the payer's %d receipts, want all", got, n)
	}
	if got, want := judge.book.Spendable(id), holder.book.Spendable(id); got != want {
		t.Fatalf("the judge sees %v spendable, the holder %v", got, want)
	}
}
