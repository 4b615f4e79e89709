package ledger_test

import (
	"errors"
	"os"
	"testing"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/ledger"
)

// A cold store that cannot be written (a full disk) leaves the slots it
// would have taken as entries, and one that cannot be read fails what
// needs a folded slot with an error, never a wrong answer: a replay is not
// taken for a new receipt, a listing is not cut short without saying so.
// Either way the book says what a book that never folded says once the
// store works again.
func TestColdStoreFaults(t *testing.T) {
	k := keys{}
	b, cold, plain, add := faultyAndPlain(t, k)
	var rs []*job.Receipt
	for i := uint64(1); i <= 60; i++ {
		rs = append(rs, k.receipt("client", "prov", 1, i))
	}
	cold.FailAdd.Store(true)
	for _, r := range rs[:30] {
		add(r)
	}
	if n := ledger.ColdSlots(b); n != 0 {
		t.Fatalf("%d slots folded into a store that cannot be written", n)
	}
	if got, want := bookView(t, b), bookView(t, plain); got != want {
		t.Fatalf("with a full cold store:\n%s\nnever folded:\n%s", got, want)
	}
	cold.FailAdd.Store(false)
	for _, r := range rs[30:] {
		add(r)
	}
	folded := ledger.ColdSlots(b)
	if folded == 0 {
		t.Fatal("no slot folded once the store could be written again")
	}
	cold.FailRead.Store(true)
	late := rs[40] // a slot folded after the store came back
	if _, err := b.AddReceipt(late); err == nil || errors.Is(err, ledger.ErrDuplicate) {
		t.Fatalf("a replay of a folded slot the store cannot read: %v, want an error that is not ErrDuplicate", err)
	}
	if _, err := b.AddReceipt(rs[10]); !errors.Is(err, ledger.ErrDuplicate) {
		t.Fatalf("a replay of a slot that stayed an entry: %v, want ErrDuplicate", err)
	}
	if got := b.Receipts("prov", 100); len(got) == 60 {
		t.Fatal("a listing complete although the folded slots cannot be read")
	}
	cold.FailRead.Store(false)
	if _, err := b.AddReceipt(late); !errors.Is(err, ledger.ErrDuplicate) {
		t.Fatalf("a replay of a folded slot: %v, want ErrDuplicate", err)
	}
	if n := ledger.ColdSlots(b); n != folded {
		t.Fatalf("%d cold slots, had %d", n, folded)
	}
	if got, want := bookView(t, b), bookView(t, plain); got != want {
		t.Fatalf("folded:\n%s\nnever folded:\n%s", got, want)
	}
}

// faultyAndPlain returns a book folding into a FaultyCold (4 slots behind,
// 4 at a time), a book that never folds, and add, which adds a receipt to
// both; "client" has 1000 credits in both.
func faultyAndPlain(t *testing.T, k keys) (*ledger.Book, *ledger.FaultyCold, *ledger.Book, func(*job.Receipt)) {
	t.Helper()
	b, cold, err := ledger.NewBookWithFaultyCold(append(opts(), ledger.FoldAfter(4, 4))...)
	if err != nil {
		t.Fatal(err)
	}
	plain := newBook(t)
	for _, bk := range []*ledger.Book{b, plain} {
		if err := bk.AddGrant(k.grant(testFaucet, "client", 1000, "g")); err != nil {
			t.Fatal(err)
		}
	}
	add := func(r *job.Receipt) {
		t.Helper()
		for _, bk := range []*ledger.Book{b, plain} {
			if _, err := bk.AddReceipt(r); err != nil {
				t.Fatal(err)
			}
		}
	}
	return b, cold, plain, add
}

// A Ledger's cold store is a file nobody else sees: unlinked as soon as
// it is created, so that nothing is left beside the log (not even after a
// kill -9) and two opens of one ledger share nothing; its records are
// written again by the replay of each Open.
func TestColdStoreUnlinked(t *testing.T) {
	k := keys{}
	dir := t.TempDir()
	l := openLedger(t, dir, ledger.FoldAfter(4, 4))
	if err := l.AddGrant(k.grant(testFaucet, "client", 1000, "g")); err != nil {
		t.Fatal(err)
	}
	for i := uint64(1); i <= 40; i++ {
		if _, err := l.AddReceipt(k.receipt("client", "prov", 1, i)); err != nil {
			t.Fatal(err)
		}
	}
	folded, view := ledger.LedgerColdSlots(l), ledgerView(t, l)
	if folded == 0 {
		t.Fatal("nothing folded")
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() != ledger.LogFile {
			t.Fatalf("%s beside the log", e.Name())
		}
	}
	second := openLedger(t, dir, ledger.FoldAfter(4, 4)) // another open of the same log
	if n, v := ledger.LedgerColdSlots(second), ledgerView(t, second); n != folded || v != view {
		t.Fatalf("a second open: %d cold slots (want %d), view\n%s\nwant\n%s", n, folded, v, view)
	}
	if err := second.Close(); err != nil {
		t.Fatal(err)
	}
	if got := ledgerView(t, l); got != view {
		t.Fatalf("the first open after the second closed:\n%s\nwant\n%s", got, view)
	}
}

// Should a recount (a fork below a counted chain) meet folded slots that
// cannot be read, their payer's count stops there and the payer can spend
// nothing: it must never look richer for the receipts that no longer
// count.
func TestColdStoreUnreadableStallsPayer(t *testing.T) {
	k := keys{}
	b, cold, err := ledger.NewBookWithFaultyCold(append(opts(), ledger.FoldAfter(4, 4))...)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"client", "other"} {
		if err := b.AddGrant(k.grant(testFaucet, p, 1000, "g"+p)); err != nil {
			t.Fatal(err)
		}
	}
	for i := uint64(1); i <= 40; i++ {
		if _, err := b.AddReceipt(k.receipt("client", "prov", 1, i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.AddReceipt(k.receipt("other", "prov", 5, 1)); err != nil {
		t.Fatal(err)
	}
	if ledger.ColdSlots(b) == 0 || b.Available("client") != 960 {
		t.Fatalf("%d cold slots, client can spend %d; want some and 960", ledger.ColdSlots(b), b.Available("client"))
	}
	cold.FailRead.Store(true)
	if proof, err := b.AddReceipt(k.receipt("other", "q", 7, 1)); err != nil || proof == nil { // a fork of other's counted slot 1: a recount
		t.Fatalf("the fork: proof %v, err %v", proof != nil, err)
	}
	if got := b.Available("client"); got != 0 {
		t.Fatalf("with its folded slots unreadable, client can spend %d; want 0", got)
	}
	if got := b.Spendable("client"); got > 0 {
		t.Fatalf("with its folded slots unreadable, client's balance is %d; want none", got)
	}
}

// A fork below a counted chain makes the book count again from nothing;
// the chains it does not reach stay folded (counted by their records), so
// that a fork, which any key can sign for nothing, does not make every
// holder read every chain back (nor write it to the store again).
func TestRecountKeepsChainsFolded(t *testing.T) {
	k := keys{}
	b, cold, plain, add := faultyAndPlain(t, k)
	for i := uint64(1); i <= 40; i++ {
		add(k.receipt("client", "prov", 1, i))
	}
	add(k.receipt("stranger", "prov", 0, 1)) // a key without credits: a receipt of 0
	folded, added := ledger.ColdSlots(b), cold.Added.Load()
	add(k.receipt("stranger", "q", 0, 1)) // its fork: a recount
	if !b.Fraudulent("stranger") {
		t.Fatal("the fork was not caught")
	}
	if n := ledger.ColdSlots(b); n != folded {
		t.Fatalf("an unrelated fork thawed %d of %d cold slots", folded-n, folded)
	}
	if n := cold.Added.Load() - added; n != 0 {
		t.Fatalf("an unrelated fork wrote %d bytes of folded slots again", n)
	}
	if got, want := bookView(t, b), bookView(t, plain); got != want {
		t.Fatalf("folded:\n%s\nnever folded:\n%s", got, want)
	}
}

// A cold store that cannot be read fails a batch that needs it (a replay
// of a folded slot) with an error: a failure of this node, not a refusal
// of the record, which the sender would be told does not verify.
func TestColdStoreReadFailsTheBatch(t *testing.T) {
	k := keys{}
	l := openLedger(t, t.TempDir(), ledger.FoldAfter(4, 4))
	if err := l.AddGrant(k.grant(testFaucet, "client", 1000, "g")); err != nil {
		t.Fatal(err)
	}
	var rs []job.Receipt
	for i := uint64(1); i <= 40; i++ {
		r := k.receipt("client", "prov", 1, i)
		rs = append(rs, *r)
		if _, err := l.AddReceipt(r); err != nil {
			t.Fatal(err)
		}
	}
	if ledger.LedgerColdSlots(l) == 0 {
		t.Fatal("nothing folded")
	}
	cold := ledger.FaultLedgerCold(l)
	cold.FailRead.Store(true)
	added, _, refused, err := l.AddAll(nil, rs[2:3])
	if err == nil || len(refused) > 0 || added != 0 {
		t.Fatalf("a replay of folded slot 3 with the store failing: added %d, refused %v, err %v; want an error and no refusal", added, refused, err)
	}
	cold.FailRead.Store(false)
	if added, _, refused, err := l.AddAll(nil, rs[2:3]); err != nil || len(refused) > 0 || added != 0 {
		t.Fatalf("the same replay with the store back: added %d, refused %v, err %v; want a duplicate", added, refused, err)
	}
}
