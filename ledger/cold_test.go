package ledger_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/ledger"
	"pgregory.net/rapid"
)

// Folding (cold.go) must be invisible: a book that folds every counted
// slot at once says exactly what a book that never folds says.

// view is everything a book says of its peers, listings as sets of IDs.
type view interface {
	Peers() []string
	Balance(string) ledger.Balance
	Stats() ledger.Stats
	FraudulentPayers() []string
	NextSeq(string) uint64
	Available(string) job.Credits
	CountedChain(string) uint64
	PendingPayers(string, int) []string
}

func describe(t tb, v view, records func(peer string) ([]job.Receipt, []job.Receipt)) string {
	t.Helper()
	var out bytes.Buffer
	fmt.Fprintf(&out, "stats %+v fraud %v\n", v.Stats(), v.FraudulentPayers())
	for _, p := range v.Peers() {
		pending := v.PendingPayers(p, 100)
		slices.Sort(pending)
		recent, recs := records(p)
		fmt.Fprintf(&out, "%s: %+v next %d available %d chain %d pending %v\n  receipts %s\n  records %s\n", p, v.Balance(p),
			v.NextSeq(p), v.Available(p), v.CountedChain(p), pending, idSet(recent), idSet(recs))
	}
	return out.String()
}

func idSet(rs []job.Receipt) string {
	ids := make([]string, 0, len(rs))
	for _, r := range rs {
		id := r.ID()
		ids = append(ids, fmt.Sprintf("%x/%v", id[:4], len(r.PayeeSig) > 0))
	}
	slices.Sort(ids)
	return fmt.Sprint(ids)
}

func bookView(t tb, b *ledger.Book) string {
	return describe(t, b, func(p string) ([]job.Receipt, []job.Receipt) {
		_, recs := b.Records(p, 1000)
		return b.Receipts(p, 1000), recs
	})
}

func ledgerView(t tb, l *ledger.Ledger) string {
	return describe(t, l, func(p string) ([]job.Receipt, []job.Receipt) {
		recent, err := l.Receipts(p, 1000)
		if err != nil {
			t.Fatal(err)
		}
		_, recs, err := l.Records(p, 1000)
		if err != nil {
			t.Fatal(err)
		}
		return recent, recs
	})
}

// TestPropFoldingInvisible: the same records in the same order give the
// same balances, counts, pending payers and listings whether every counted
// slot is folded at once or none is, double spends of folded slots
// included; so does a folding Ledger reopened from its log.
func TestPropFoldingInvisible(t *testing.T) {
	k := keys{}
	base := t.TempDir()
	n := 0
	rapid.Check(t, func(t *rapid.T) {
		recs := rapid.Permutation(drawRecords(t, k)).Draw(t, "order")
		plain := newBook(t)
		folding, err := ledger.NewBook(append(opts(), ledger.FoldAfter(0, 1))...)
		if err != nil {
			t.Fatal(err)
		}
		n++
		dir := filepath.Join(base, fmt.Sprint(n))
		defer os.RemoveAll(dir)
		l, err := ledger.Open(dir, append(opts(), ledger.FoldAfter(0, 1))...)
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range recs {
			add(t, plain, rec)
			add(t, folding, rec)
			add(t, l, rec)
		}
		want := bookView(t, plain)
		if got := bookView(t, folding); got != want {
			t.Fatalf("folding book (%d cold slots):\n%s\nplain book:\n%s", ledger.ColdSlots(folding), got, want)
		}
		if got := ledgerView(t, l); got != want {
			t.Fatalf("folding ledger (%d cold slots):\n%s\nplain book:\n%s", ledger.LedgerColdSlots(l), got, want)
		}
		l.Close()
		l2, err := ledger.Open(dir, append(opts(), ledger.FoldAfter(0, 1))...)
		if err != nil {
			t.Fatal(err)
		}
		defer l2.Close()
		if got := ledgerView(t, l2); got != want {
			t.Fatalf("folding ledger reopened:\n%s\nplain book:\n%s", got, want)
		}
		if rep, err := l2.Verify(); err != nil || len(rep.Problems) > 0 {
			t.Fatalf("Verify: %+v, %v", rep, err)
		}
	})
}

// TestFoldingLongChain: a client's 3,000 counter-signed receipts to three
// providers at their holder: all but the last few hundred slots go cold;
// every listing still has every receipt; a replay of a cold receipt is a
// duplicate; another receipt for a cold slot (a double spend) is caught,
// with its proof, and the book counts as one that never folded would.
func TestFoldingLongChain(t *testing.T) {
	k := keys{}
	const jobs = 3000
	l := openLedger(t, t.TempDir())
	plain := newBook(t)
	provs := []string{"p1", "p2", "p3"}
	g := k.grant(testFaucet, "client", 1_000_000, "g")
	var rs []*job.Receipt
	for i := range uint64(jobs) {
		rs = append(rs, k.receipt("client", provs[i%3], job.Credits(1+i%5), i+1))
	}
	for _, b := range []adder{l, plain} {
		if err := b.AddGrant(g); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < jobs; i += 100 { // as a holder gets them: batches
		batch := make([]job.Receipt, 0, 100)
		for _, r := range rs[i : i+100] {
			batch = append(batch, *r)
			if _, err := plain.AddReceipt(r); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, refused, err := l.AddAll(nil, batch); err != nil || len(refused) > 0 {
			t.Fatalf("AddAll: %v %v", refused, err)
		}
	}
	cold := ledger.LedgerColdSlots(l)
	if cold < jobs-600 {
		t.Fatalf("%d of %d slots cold, want all but the last 256 to 512", cold, jobs)
	}
	if got, want := ledgerView(t, l), bookView(t, plain); got != want {
		t.Fatalf("folded:\n%s\nnever folded:\n%s", got, want)
	}
	if got, err := l.Receipts("p2", jobs); err != nil || len(got) != jobs/3 {
		t.Fatalf("p2's receipts: %d, %v; want %d", len(got), err, jobs/3)
	}
	if _, err := l.AddReceipt(rs[10]); !errors.Is(err, ledger.ErrDuplicate) {
		t.Fatalf("a replay of cold receipt 11: %v, want ErrDuplicate", err)
	}
	if n := ledger.LedgerColdSlots(l); n != cold {
		t.Fatalf("a replay thawed the book: %d cold slots, had %d", n, cold)
	}
	fork := k.receipt("client", "p1", 7, 11) // slot 11 again, another payee
	proof, err := l.AddReceipt(fork)
	if err != nil || proof == nil || !l.Fraudulent("client") {
		t.Fatalf("a double spend of cold slot 11: proof %v, err %v, fraudulent %v", proof != nil, err, l.Fraudulent("client"))
	}
	if _, err := plain.AddReceipt(fork); err != nil {
		t.Fatal(err)
	}
	if got, want := ledgerView(t, l), bookView(t, plain); got != want {
		t.Fatalf("after the double spend, folded:\n%s\nnever folded:\n%s", got, want)
	}
	if err := newBook(t).AddFraud(proof); err != nil {
		t.Fatalf("the proof is refused by a fresh book: %v", err)
	}
	if rep, err := l.Verify(); err != nil || len(rep.Problems) > 0 {
		t.Fatalf("Verify: %+v, %v", rep, err)
	}
}

// A receipt with forged signatures for a cold slot thaws nothing: its
// signatures are checked before any folded slot is read back, one at a
// time or in a batch (a peer cannot make a holder thaw its chains at will).
func TestForgedReceiptThawsNothing(t *testing.T) {
	k := keys{}
	l := openLedger(t, t.TempDir(), ledger.FoldAfter(4, 4))
	for _, p := range []string{"a", "b"} {
		if err := l.AddGrant(k.grant(testFaucet, p, 1000, "g"+p)); err != nil {
			t.Fatal(err)
		}
		for i := uint64(1); i <= 40; i++ {
			if _, err := l.AddReceipt(k.receipt(p, "prov", 1, i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	before := ledger.LedgerColdSlots(l)
	if before < 60 {
		t.Fatalf("%d cold slots, want most of 80", before)
	}
	forge := func(payer string) *job.Receipt {
		r := k.receipt(payer, "prov", 2, 3) // slot 3 again, another amount
		r.PayerSig, r.PayeeSig = make([]byte, 64), make([]byte, 64)
		return r
	}
	if _, err := l.AddReceipt(forge("a")); !errors.Is(err, ledger.ErrRejected) {
		t.Fatalf("a forged receipt for a cold slot: %v, want ErrRejected", err)
	}
	if _, _, refused, err := l.AddAll(nil, []job.Receipt{*forge("b")}); err != nil || len(refused) != 1 || !errors.Is(refused[0], ledger.ErrRejected) {
		t.Fatalf("a forged receipt for a cold slot in a batch: refused %v, err %v", refused, err)
	}
	if after := ledger.LedgerColdSlots(l); after != before {
		t.Fatalf("forged receipts thawed %d of %d cold slots", before-after, before)
	}
	// A genuine double spend thaws its payer's chain, and is proved.
	if proof, err := l.AddReceipt(k.receipt("a", "q", 2, 3)); err != nil || proof == nil || !l.Fraudulent("a") || l.Fraudulent("b") {
		t.Fatalf("a's double spend of cold slot 3: proof %v, err %v", proof != nil, err)
	}
}

// Listings cut at a maximum, and the payers a judge fetches, do not
// depend on folding, nor on anything but the records (no map order).
func TestTruncatedListingsDeterministic(t *testing.T) {
	k := keys{}
	plain := newBook(t)
	folding, err := ledger.NewBook(append(opts(), ledger.FoldAfter(0, 1))...)
	if err != nil {
		t.Fatal(err)
	}
	recs := []record{{r: k.receipt("poor", "prov", 5, 1)}, {g: k.grant(testFaucet, "x", 10, "gx")}}
	for _, p := range []string{"x1", "x2", "x3", "x4", "x5", "x6"} {
		recs = append(recs, record{g: k.grant(testFaucet, p, 10, "g"+p)}, record{r: k.receipt(p, "prov", 1, 1)})
	}
	recs = append(recs, record{r: k.receipt("x", "q", 1, 1)}, record{r: k.receipt("x", "prov", 1, 2)},
		record{r: k.receipt("y", "prov", 5, 1)}, record{r: k.receipt("x", "z", 1, 1)}) // x forks slot 1
	for _, b := range []*ledger.Book{plain, folding} {
		for _, rec := range recs {
			switch {
			case rec.g != nil:
				err = b.AddGrant(rec.g)
			default:
				_, err = b.AddReceipt(rec.r)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	list := func(b *ledger.Book) string {
		_, rs := b.Records("prov", 3)
		var out []string
		for _, r := range rs {
			out = append(out, r.Payer)
		}
		return fmt.Sprint(out, b.PendingPayers("prov", 1))
	}
	want := list(plain)
	for range 50 {
		if got := list(folding); got != want {
			t.Fatalf("Records(prov, 3) and PendingPayers(prov, 1): folding %s, plain %s", got, want)
		}
	}
}
