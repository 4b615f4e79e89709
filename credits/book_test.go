package credits

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/computemesh/computemesh/internal/testfaucet"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/ledger"
	"github.com/computemesh/computemesh/mesh"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/time/rate"
)

const testJob = "bafkreigbq32h2ndothmrbtrps5nfxzddy6jtsilkqtqeynhusawjofijra"

// books starts n Books with credits (the test faucet) on meshes of one
// network, each connected to the first.
func books(t *testing.T, network string, n int) []*Book {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []*Book
	var first *mesh.Mesh
	for i := range n {
		m, err := mesh.New(ctx, mesh.Network(network), mesh.Listen("/ip4/127.0.0.1/tcp/0"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		if first == nil {
			first = m
		} else if err := m.Connect(ctx, peer.AddrInfo{ID: first.ID(), Addrs: first.Host().Addrs()}); err != nil {
			t.Fatal(err)
		}
		b, err := New(context.Background(), m, Dir(filepath.Join(t.TempDir(), "ledger")), Faucet(testfaucet.ID), FreshKey(true))
		if err != nil {
			t.Fatalf("book %d: %v", i, err)
		}
		t.Cleanup(func() { _ = b.Close() })
		out = append(out, b)
	}
	return out
}

// grant funds account in b's ledger.
func grant(t *testing.T, b *Book, account string, amount job.Credits) {
	t.Helper()
	g, err := SignGrant(testfaucet.Key(), b.mesh.NetworkName(), account, amount)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.AddGrant(context.Background(), g); err != nil {
		t.Fatal(err)
	}
}

// A grant signed with the faucet key verifies and funds its account; one
// tampered with does not verify.
func TestSignGrantAndVerify(t *testing.T) {
	g, err := SignGrant(testfaucet.Key(), "test-credits", testfaucet.ID, job.Nano)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifySignature(g.Faucet, g.SigningBytes(), g.Sig); err != nil {
		t.Fatalf("a grant's signature: %v", err)
	}
	g.Amount++
	if err := VerifySignature(g.Faucet, g.SigningBytes(), g.Sig); err == nil {
		t.Fatal("a grant changed after signing verifies")
	}
	if err := VerifySignature("not a peer", nil, nil); err == nil || !strings.Contains(err.Error(), "signer") {
		t.Fatalf("a bad signer: %v", err)
	}
}

// A client is served only when its balance covers the price beside what
// it commits; an author with nothing cannot pay.
func TestFundedAndCanPay(t *testing.T) {
	b := books(t, "test-credits-funded", 1)[0]
	client := books(t, "test-credits-funded-c", 1)[0].self
	if b.CanPay(client) {
		t.Fatal("an author with no grant can pay")
	}
	grant(t, b, client.String(), 5*job.Nano)
	if !b.CanPay(client) {
		t.Fatal("a funded author cannot pay")
	}
	if why := b.Funded(client.String(), 0, 5*job.Nano); why != "" {
		t.Fatalf("funded client refused: %s", why)
	}
	if why := b.Funded(client.String(), 2*job.Nano, 4*job.Nano); !strings.Contains(why, "commit") {
		t.Fatalf("over-committed client: %q", why)
	}
	if why := b.Funded(client.String(), 0, 6*job.Nano); !strings.Contains(why, "the price is") {
		t.Fatalf("client short of the price: %q", why)
	}
}

// A client's authorisation takes a slot of its chain and passes the
// provider's checks; one that does not cover the pay does not.
func TestAuthorizeAndCheck(t *testing.T) {
	bs := books(t, "test-credits-auth", 2)
	client, prov := bs[0], bs[1]
	a := &job.Award{V: job.Version, Job: testJob, Client: client.self.String(), Attempt: 1,
		Spec: job.Spec{TimeoutMS: 60_000}, Bid: job.Bid{Provider: prov.self.String(), Price: job.Nano}}
	auth, err := client.Authorize(context.Background(), a, job.Nano)
	if err != nil {
		t.Fatal(err)
	}
	if auth.Seq != 1 {
		t.Fatalf("the first authorisation took slot %d", auth.Seq)
	}
	a.Auth = auth
	if why := prov.CheckAuthorization(a, client.self, job.Nano); why != "" {
		t.Fatalf("a good authorisation: %s", why)
	}
	if why := prov.CheckAuthorization(a, client.self, 2*job.Nano); !strings.Contains(why, "covers") {
		t.Fatalf("an authorisation short of the pay: %q", why)
	}
	if why := prov.CheckAuthorization(a, prov.self, job.Nano); !strings.Contains(why, "not from the client") {
		t.Fatalf("an authorisation of another client: %q", why)
	}
	client.VoidUnpaid(auth)
	if got := client.Ledger().NextSeq(client.self.String()); got != 2 {
		t.Fatalf("after the void the next slot is %d, want 2", got)
	}
}

// receiptFrom is a receipt signed by b as payer.
func receiptFrom(t *testing.T, b *Book, payee string, seq uint64) job.Receipt {
	t.Helper()
	r := job.Receipt{V: job.Version, Network: b.mesh.NetworkName(), Job: testJob, Attempt: 1,
		Payer: b.self.String(), Payee: payee, Amount: 1, Seq: seq, TimeMS: time.Now().UnixMilli()}
	sig, err := b.Sign(r.SigningBytes())
	if err != nil {
		t.Fatal(err)
	}
	r.PayerSig = sig
	return r
}

// A holder keeps the records a party sends, refuses those of others and
// those past the sender's rate, and answers a judge's sync with them.
func TestStoreAndSync(t *testing.T) {
	bs := books(t, "test-credits-store", 3)
	holder, payer, judge := bs[0], bs[1], bs[2]
	ctx := context.Background()
	// One grant, which both hold whether or not its gossip has arrived
	// (two grants made a race: the holder compared before the judge's
	// own grant reached it by gossip).
	g, err := SignGrant(testfaucet.Key(), holder.mesh.NetworkName(), payer.self.String(), job.Nano)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []*Book{holder, judge} {
		if err := b.AddGrant(ctx, g); err != nil && !errors.Is(err, ledger.ErrDuplicate) {
			t.Fatal(err)
		}
	}
	others := receiptFrom(t, judge, holder.self.String(), 1)
	if err := payer.SendRecords(ctx, holder.self.String(), []job.Receipt{others}); err == nil || !strings.Contains(err.Error(), "neither its payer nor its payee") {
		t.Fatalf("a record of others: %v", err)
	}
	var rs []job.Receipt
	for seq := uint64(1); seq <= 3; seq++ {
		rs = append(rs, receiptFrom(t, payer, judge.self.String(), seq))
	}
	if err := payer.SendRecords(ctx, holder.self.String(), rs); err != nil {
		t.Fatal(err)
	}
	if got := holder.Ledger().CountedChain(payer.self.String()); got != 3 {
		t.Fatalf("the holder counts %d receipts of the payer, want 3", got)
	}
	if n, err := judge.SyncAccount(ctx, holder.self, payer.self.String()); err != nil || n == 0 {
		t.Fatalf("sync: %d new, %v", n, err)
	}
	if got, want := judge.Ledger().Spendable(payer.self.String()), holder.Ledger().Spendable(payer.self.String()); got != want {
		t.Fatalf("the judge sees %v spendable, the holder %v", got, want)
	}
	holder.SetStoreRate(rate.Every(time.Hour))
	var flood []job.Receipt
	for seq := uint64(4); len(flood) <= StoreBurst; seq++ {
		flood = append(flood, receiptFrom(t, payer, judge.self.String(), seq))
	}
	err = payer.SendRecords(ctx, holder.self.String(), flood[:ledger.MaxStoreRecords])
	for i := ledger.MaxStoreRecords; err == nil && i < len(flood); i += ledger.MaxStoreRecords {
		err = payer.SendRecords(ctx, holder.self.String(), flood[i:min(i+ledger.MaxStoreRecords, len(flood))])
	}
	if err == nil || !strings.Contains(err.Error(), "records a second") {
		t.Fatalf("past the burst: %v, want the rate refused", err)
	}
}

// Close waits for the Book's goroutines and starts none after.
func TestCloseEndsTheBook(t *testing.T) {
	b := books(t, "test-credits-close", 1)[0]
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if b.own.Go(func() { t.Error("a goroutine started after Close") }) {
		t.Fatal("the Book started a goroutine after Close")
	}
	if err := b.Ledger().AddGrant(&job.Grant{}); err == nil {
		t.Fatal("the ledger takes records after Close")
	}
}

// Flush sends the queued records at once, without waiting out the push
// linger, and returns once their recipient holds them.
func TestFlushSendsWhatIsQueued(t *testing.T) {
	bs := books(t, "test-credits-flush", 2)
	holder, payer := bs[0], bs[1]
	grant(t, holder, payer.self.String(), job.Nano)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The payer's routing table holds the holder: it is among the
	// holders of both accounts.
	for i := 0; ; i++ {
		if ps, _ := payer.mesh.ClosestPeers(ctx, fmt.Sprintf("probe-%d", i), ledger.HolderCount); len(ps) == 2 {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the payer's routing table never held the holder")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for seq := uint64(1); seq <= 3; seq++ {
		r := receiptFrom(t, payer, holder.self.String(), seq)
		payer.PushRecord(&r)
	}
	payer.Flush(ctx)
	if got := holder.Ledger().CountedChain(payer.self.String()); got != 3 {
		t.Fatalf("after Flush the holder counts %d receipts of the payer, want 3", got)
	}
}
