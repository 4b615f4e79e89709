package ledger_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/ledger"
)

// funded returns a book where alice holds 100 credits from the faucet.
func funded(t *testing.T, k keys) *ledger.Book {
	t.Helper()
	b := newBook(t)
	if err := b.AddGrant(k.grant(testFaucet, "alice", 100*job.Nano, "g1")); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAddReceipt(t *testing.T) {
	k := keys{}
	b := funded(t, k)
	p, err := b.AddReceipt(k.receipt("alice", "bob", 3*job.Nano, 1))
	if err != nil || p != nil {
		t.Fatalf("AddReceipt = %v, %v", p, err)
	}
	if got, want := b.Balance("alice"), (ledger.Balance{Granted: 100 * job.Nano, Spent: 3 * job.Nano, Balance: 97 * job.Nano, Receipts: 1}); got != want {
		t.Fatalf("alice: %+v, want %+v", got, want)
	}
	if got, want := b.Balance("bob"), (ledger.Balance{Earned: 3 * job.Nano, Balance: 3 * job.Nano, Receipts: 1}); got != want {
		t.Fatalf("bob: %+v, want %+v", got, want)
	}
	if got := b.NextSeq("alice"); got != 2 {
		t.Fatalf("NextSeq(alice) = %d, want 2", got)
	}
	if got := b.NextSeq("carol"); got != 1 {
		t.Fatalf("NextSeq(carol) = %d, want 1", got)
	}
}

// TestBadReceipts: forged, altered, replayed, oversized and wrong-network
// receipts are refused with a reason, and no balance moves.
func TestBadReceipts(t *testing.T) {
	k := keys{}
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	tests := []struct {
		name string
		make func() *job.Receipt
		want string
		dup  bool
	}{
		{"payer signature by another key", func() *job.Receipt {
			r := k.receipt("alice", "bob", job.Nano, 2)
			r.PayerSig = ed25519.Sign(other, r.SigningBytes())
			return r
		}, "payer_sig: not the payer's signature", false},
		{"payee signature by the payer", func() *job.Receipt {
			r := k.receipt("alice", "bob", job.Nano, 2)
			r.PayeeSig = r.PayerSig
			return r
		}, "payee_sig: not payee bob's signature", false},
		{"amount altered after signing", func() *job.Receipt {
			r := k.receipt("alice", "bob", job.Nano, 2)
			r.Amount = 50 * job.Nano
			return r
		}, "payer_sig", false},
		{"payee altered after signing", func() *job.Receipt {
			r := k.receipt("alice", "bob", job.Nano, 2)
			r.Payee = "mallory"
			return r
		}, "payer_sig", false},
		{"signature truncated", func() *job.Receipt {
			r := k.receipt("alice", "bob", job.Nano, 2)
			r.PayerSig = r.PayerSig[:10]
			return r
		}, "payer_sig", false},
		{"missing payer signature", func() *job.Receipt {
			r := k.receipt("alice", "bob", job.Nano, 2)
			r.PayerSig = nil
			return r
		}, "payer_sig: missing", false},
		{"another network", func() *job.Receipt {
			r := k.receipt("alice", "bob", job.Nano, 2)
			r.Network = "mainnet"
			k.sign(r)
			return r
		}, "network: \"mainnet\" is not this network", false},
		{"self payment", func() *job.Receipt {
			r := k.receipt("alice", "bob", job.Nano, 2)
			r.Payee = "alice"
			k.sign(r)
			return r
		}, "payee:", false},
		{"negative amount", func() *job.Receipt {
			r := k.receipt("alice", "bob", job.Nano, 2)
			r.Amount = -job.Nano
			k.sign(r)
			return r
		}, "amount:", false},
		{"exact replay", func() *job.Receipt { return k.receipt("alice", "bob", 3*job.Nano, 1) }, "already recorded", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := funded(t, k)
			if _, err := b.AddReceipt(k.receipt("alice", "bob", 3*job.Nano, 1)); err != nil {
				t.Fatal(err)
			}
			before := []ledger.Balance{b.Balance("alice"), b.Balance("bob"), b.Balance("mallory")}
			p, err := b.AddReceipt(tt.make())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("AddReceipt error %v, want one containing %q", err, tt.want)
			}
			if tt.dup != errors.Is(err, ledger.ErrDuplicate) || tt.dup == errors.Is(err, ledger.ErrRejected) {
				t.Fatalf("error %v: duplicate %v, rejected %v; want duplicate %v", err, errors.Is(err, ledger.ErrDuplicate), errors.Is(err, ledger.ErrRejected), tt.dup)
			}
			if p != nil {
				t.Fatalf("a refused receipt gave a fraud proof %+v", p)
			}
			after := []ledger.Balance{b.Balance("alice"), b.Balance("bob"), b.Balance("mallory")}
			for i := range before {
				if before[i] != after[i] {
					t.Fatalf("balance %d moved: %+v → %+v", i, before[i], after[i])
				}
			}
			if b.Fraudulent("alice") {
				t.Fatal("alice marked fraudulent by a refused receipt")
			}
		})
	}
}

func TestDecodeOversized(t *testing.T) {
	k := keys{}
	enc := job.Encode(k.receipt("alice", "bob", job.Nano, 1))
	if _, err := ledger.DecodeReceipt(enc); err != nil {
		t.Fatalf("DecodeReceipt of a good receipt: %v", err)
	}
	big := append(enc[:len(enc)-1:len(enc)-1], []byte(`,"pad":"`+strings.Repeat("x", job.MaxReceiptSize)+`"}`)...)
	_, err := ledger.DecodeReceipt(big)
	if err == nil || !errors.Is(err, ledger.ErrRejected) || !strings.Contains(err.Error(), "exceeds the limit") {
		t.Fatalf("DecodeReceipt of %d bytes: %v", len(big), err)
	}
	if _, err := ledger.DecodeReceipt(append(enc[:len(enc)-1:len(enc)-1], []byte(`,"bonus":1}`)...)); err == nil {
		t.Fatal("DecodeReceipt accepted an unknown field")
	}
	if _, err := ledger.DecodeGrant(bytes.Repeat([]byte(" "), job.MaxGrantSize+1)); err == nil {
		t.Fatal("DecodeGrant accepted an oversized grant")
	}
	if _, err := ledger.DecodeFraudProof([]byte(`{"v":1}`)); err == nil {
		t.Fatal("DecodeFraudProof accepted an empty proof")
	}
}

func TestGrants(t *testing.T) {
	k := keys{}
	tests := []struct {
		name  string
		opts  []ledger.Option
		grant func() *job.Grant
		want  string // "" accepted
	}{
		{"from the faucet", nil, func() *job.Grant { return k.grant(testFaucet, "alice", job.Nano, "n1") }, ""},
		{"self-signed", nil, func() *job.Grant { return k.grant("alice", "alice", job.Nano, "n1") }, "self-signed grant"},
		{"signed by another peer", nil, func() *job.Grant { return k.grant("bob", "alice", job.Nano, "n1") }, "faucet: bob is not network \"testnet\"'s faucet faucet"},
		{"naming the faucet, signed by another key", nil, func() *job.Grant {
			g := k.grant(testFaucet, "alice", job.Nano, "n1")
			g.Sig = k.grant("alice", "alice", job.Nano, "n1").Sig
			return g
		}, "sig: not the faucet's signature"},
		{"altered amount", nil, func() *job.Grant {
			g := k.grant(testFaucet, "alice", job.Nano, "n1")
			g.Amount = 1000 * job.Nano
			return g
		}, "sig: not the faucet's signature"},
		{"another network", nil, func() *job.Grant {
			g := k.grant(testFaucet, "alice", job.Nano, "n1")
			g.Network = "othernet"
			g.Sig = ed25519.Sign(k.key(testFaucet), g.SigningBytes())
			return g
		}, "network:"},
		{"a network without a faucet", []ledger.Option{ledger.WithNetwork(testNet), ledger.WithVerifier(verifier())},
			func() *job.Grant { return k.grant(testFaucet, "alice", job.Nano, "n1") }, "has no faucet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.opts
			if o == nil {
				o = opts()
			}
			b, err := ledger.NewBook(o...)
			if err != nil {
				t.Fatal(err)
			}
			err = b.AddGrant(tt.grant())
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got := b.Balance("alice").Granted; got != job.Nano {
					t.Fatalf("granted %v, want 1", got)
				}
				return
			}
			if err == nil || !errors.Is(err, ledger.ErrRejected) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("AddGrant error %v, want a rejection containing %q", err, tt.want)
			}
			if got := b.Balance("alice"); got != (ledger.Balance{}) || b.Stats().Granted != 0 {
				t.Fatalf("a refused grant moved credits: %+v", got)
			}
		})
	}
}

func TestGrantNonces(t *testing.T) {
	k := keys{}
	b := newBook(t)
	g := k.grant(testFaucet, "alice", job.Nano, "n1")
	if err := b.AddGrant(g); err != nil {
		t.Fatal(err)
	}
	if err := b.AddGrant(g); !errors.Is(err, ledger.ErrDuplicate) {
		t.Fatalf("replayed grant: %v, want ErrDuplicate", err)
	}
	if err := b.AddGrant(k.grant(testFaucet, "alice", job.Nano, "n2")); err != nil {
		t.Fatal(err)
	}
	if got := b.Balance("alice").Granted; got != 2*job.Nano {
		t.Fatalf("granted %v, want 2 (two nonces, one replay)", got)
	}
}

func TestDoubleSpend(t *testing.T) {
	k := keys{}
	b := funded(t, k)
	r1 := k.receipt("alice", "bob", 60*job.Nano, 1)
	r2 := k.receipt("alice", "carol", 60*job.Nano, 1) // the same seq, another payee
	if p, err := b.AddReceipt(r1); err != nil || p != nil {
		t.Fatalf("first receipt: %v, %v", p, err)
	}
	if b.Fraudulent("alice") {
		t.Fatal("fraudulent after one receipt")
	}
	p, err := b.AddReceipt(r2)
	if err != nil || p == nil {
		t.Fatalf("second receipt with seq 1: proof %v, error %v; want a proof", p, err)
	}
	if !b.Fraudulent("alice") || b.FraudProof("alice") == nil {
		t.Fatal("alice not marked fraudulent")
	}
	// The fork ends alice's chain: neither receipt counts (the one that
	// did is revoked), so she is not in debt and no credit is created.
	if got := b.Balance("alice"); got.Balance != 100*job.Nano || got.PendingOut != 120*job.Nano {
		t.Fatalf("alice: %+v, want balance 100, 120 pending", got)
	}
	if b.Balance("bob").Earned != 0 || b.Balance("carol").Earned != 0 || b.Balance("bob").PendingIn != 60*job.Nano {
		t.Fatalf("bob %+v, carol %+v: neither forked receipt may count", b.Balance("bob"), b.Balance("carol"))
	}
	if err := p.Validate(); err != nil {
		t.Fatalf("the proof does not validate: %v", err)
	}

	// Another node learns of it from the proof alone.
	other := newBook(t)
	if err := other.AddFraud(p); err != nil {
		t.Fatal(err)
	}
	if !other.Fraudulent("alice") || other.Balance("carol").PendingIn != 60*job.Nano {
		t.Fatalf("after AddFraud: fraudulent %v, carol %+v", other.Fraudulent("alice"), other.Balance("carol"))
	}
	if err := other.AddFraud(p); !errors.Is(err, ledger.ErrDuplicate) {
		t.Fatalf("the same proof again: %v, want ErrDuplicate", err)
	}
	// A proof of a receipt and a forged twin is refused.
	forged := *p
	forged.B = *cloneReceipt(&p.B)
	forged.B.Amount = 99
	third := newBook(t)
	if err := third.AddFraud(&forged); err == nil || !errors.Is(err, ledger.ErrRejected) || !strings.Contains(err.Error(), "receipt b") {
		t.Fatalf("forged proof: %v", err)
	}
	if third.Fraudulent("alice") || third.Balance("bob") != (ledger.Balance{}) {
		t.Fatal("a refused proof changed the book")
	}
	// Two receipts that do not conflict are no proof.
	np := &job.FraudProof{V: job.Version, A: *r1, B: *k.receipt("alice", "bob", job.Nano, 2)}
	if err := third.AddFraud(np); err == nil || !strings.Contains(err.Error(), "b.seq") {
		t.Fatalf("non-conflicting proof: %v", err)
	}
}

// A receipt counts once its payer's earlier receipts count and its payer
// covers it: a gap holds it pending, and so does a payer without the
// credits, until a late predecessor or an incoming payment arrives.
func TestChainCounts(t *testing.T) {
	k := keys{}
	b := funded(t, k) // alice 100
	mustAdd := func(r *job.Receipt) {
		t.Helper()
		if p, err := b.AddReceipt(r); err != nil || p != nil {
			t.Fatalf("AddReceipt(%s#%d): %v, %v", r.Payer, r.Seq, p, err)
		}
	}
	mustAdd(k.receipt("alice", "bob", 10*job.Nano, 2)) // before its predecessor
	if got := b.Balance("bob"); got.Earned != 0 || got.PendingIn != 10*job.Nano {
		t.Fatalf("a receipt after a gap counted: bob %+v", got)
	}
	mustAdd(k.receipt("bob", "carol", 15*job.Nano, 1)) // bob cannot cover it yet
	mustAdd(k.receipt("alice", "bob", 20*job.Nano, 1)) // the late predecessor
	if got, want := b.Balance("alice"), (ledger.Balance{Granted: 100 * job.Nano, Spent: 30 * job.Nano, Balance: 70 * job.Nano, Receipts: 2}); got != want {
		t.Fatalf("alice: %+v, want %+v", got, want)
	}
	if got := b.Balance("bob"); got.Balance != 15*job.Nano || got.Spent != 15*job.Nano || got.Pending != 0 {
		t.Fatalf("bob: %+v; want 30 earned, 15 paid on to carol", got)
	}
	if got := b.Balance("carol").Balance; got != 15*job.Nano {
		t.Fatalf("carol: %v, want 15", got)
	}
	// A receipt larger than its payer's balance stays pending.
	mustAdd(k.receipt("carol", "alice", 16*job.Nano, 1))
	if got := b.Balance("carol"); got.Balance != 15*job.Nano || got.PendingOut != 16*job.Nano {
		t.Fatalf("carol: %+v; want 15 and 16 pending", got)
	}
	if st := b.Stats(); st.Counted != 3 || st.Receipts != 4 {
		t.Fatalf("stats %+v: want 3 of 4 receipts counted", st)
	}
}

// Two throw-away keys that sign each other receipts (attack: "B pays A
// 1,000,000") create nothing: neither holds a grant, so nothing counts.
func TestReceiptsBetweenUnfundedKeys(t *testing.T) {
	k := keys{}
	b := funded(t, k)
	for _, r := range []*job.Receipt{k.receipt("mallory", "trent", job.MaxAmount, 1), k.receipt("trent", "mallory", job.MaxAmount, 1)} {
		if _, err := b.AddReceipt(r); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"mallory", "trent"} {
		if got := b.Balance(p); got.Balance != 0 || got.Pending != 2 {
			t.Fatalf("%s: %+v; want nothing spendable, both receipts pending", p, got)
		}
	}
	if st := b.Stats(); st.Counted != 0 || st.Granted != 100*job.Nano {
		t.Fatalf("stats %+v", st)
	}
}

// A fork below a payer's counted chain revokes its receipts from the fork
// on, and, in turn, what their payees paid with those credits: the payees
// lose, no credit is created or destroyed.
func TestForkRevokes(t *testing.T) {
	k := keys{}
	b := funded(t, k) // alice 100
	for _, r := range []*job.Receipt{
		k.receipt("alice", "bob", 10*job.Nano, 1),
		k.receipt("alice", "bob", 60*job.Nano, 2),
		k.receipt("bob", "carol", 50*job.Nano, 1), // needs the 60
		k.receipt("carol", "dave", 5*job.Nano, 1),
	} {
		if _, err := b.AddReceipt(r); err != nil {
			t.Fatal(err)
		}
	}
	if got := b.Balance("dave").Balance; got != 5*job.Nano {
		t.Fatalf("dave %v before the fork, want 5", got)
	}
	p, err := b.AddReceipt(k.receipt("alice", "erin", 60*job.Nano, 2)) // alice forks at 2
	if err != nil || p == nil {
		t.Fatalf("fork: %v, %v", p, err)
	}
	want := map[string]job.Credits{"alice": 90 * job.Nano, "bob": 10 * job.Nano, "carol": 0, "dave": 0, "erin": 0}
	var sum job.Credits
	for peer, w := range want {
		if got := b.Balance(peer).Balance; got != w {
			t.Errorf("%s: %v after the fork, want %v", peer, got, w)
		}
		sum += b.Balance(peer).Balance
	}
	if sum != 100*job.Nano {
		t.Fatalf("balances sum to %v, want the 100 granted", sum)
	}
}

func cloneReceipt(r *job.Receipt) *job.Receipt {
	c := *r
	c.PayerSig = append([]byte(nil), r.PayerSig...)
	c.PayeeSig = append([]byte(nil), r.PayeeSig...)
	return &c
}

func TestReceiptsRecent(t *testing.T) {
	k := keys{}
	b := funded(t, k)
	for seq := uint64(1); seq <= 5; seq++ {
		if _, err := b.AddReceipt(k.receipt("alice", "bob", job.Nano, seq)); err != nil {
			t.Fatal(err)
		}
	}
	rs := b.Receipts("bob", 3)
	if len(rs) != 3 || rs[0].Seq != 5 || rs[1].Seq != 4 || rs[2].Seq != 3 {
		t.Fatalf("Receipts(bob, 3) = %+v", rs)
	}
	rs[0].PayerSig[0] ^= 1 // a copy: the book is unchanged
	if got := b.Receipts("bob", 1)[0]; got.PayerSig[0] == rs[0].PayerSig[0] {
		t.Fatal("Receipts returned the book's own slices")
	}
	if got := b.Receipts("nobody", 3); got != nil {
		t.Fatalf("Receipts(nobody) = %v", got)
	}
	if st := b.Stats(); st.Receipts != 5 || st.Grants != 1 || st.Peers != 2 || st.Granted != 100*job.Nano {
		t.Fatalf("Stats = %+v", st)
	}
	for _, p := range []string{"alice", "bob", "nobody"} {
		g, r := b.Counts(p)
		bal := b.Balance(p)
		if r != bal.Receipts || (g > 0) != (bal.Granted > 0) {
			t.Errorf("Counts(%s) = %d grants, %d receipts; Balance says %d granted, %d receipts", p, g, r, bal.Granted, bal.Receipts)
		}
	}
}

func TestAuthorization(t *testing.T) {
	k := keys{}
	b := newBook(t)
	a := &job.Authorization{V: job.Version, Network: testNet, Job: testJob, Attempt: 1, Payer: "alice", Payee: "bob", Max: job.Nano, ExpiresMS: 1}
	a.Sig = ed25519.Sign(k.key("alice"), a.SigningBytes())
	if err := b.VerifyAuthorization(a); err != nil {
		t.Fatal(err)
	}
	a.Max = 2 * job.Nano
	if err := b.VerifyAuthorization(a); err == nil || !strings.Contains(err.Error(), "not payer alice's signature") {
		t.Fatalf("altered authorization: %v", err)
	}
	a.Sig = nil
	if err := b.VerifyAuthorization(a); err == nil || !strings.Contains(err.Error(), "sig:") {
		t.Fatalf("unsigned authorization: %v", err)
	}
}

func TestOptions(t *testing.T) {
	for name, o := range map[string][]ledger.Option{
		"no network":   {ledger.WithVerifier(verifier())},
		"no verifier":  {ledger.WithNetwork(testNet)},
		"bad network":  {ledger.WithNetwork("a b"), ledger.WithVerifier(verifier())},
		"conflicting":  {ledger.WithNetwork("a"), ledger.WithFaucet("b", testFaucet), ledger.WithVerifier(verifier())},
		"bad faucet":   {ledger.WithFaucet(testNet, "no such/peer"), ledger.WithVerifier(verifier())},
		"nil verifier": {ledger.WithNetwork(testNet), ledger.WithVerifier(nil)},
		"nil logger":   {ledger.WithNetwork(testNet), ledger.WithVerifier(verifier()), ledger.WithLogger(nil)},
	} {
		if _, err := ledger.NewBook(o...); err == nil {
			t.Errorf("%s: NewBook accepted the options", name)
		}
	}
}
