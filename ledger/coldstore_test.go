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
	cold := &ledger.FaultyCold{}
	b, err := ledger.NewBookWithCold(cold, append(opts(), ledger.FoldAfter(4, 4))...)
	if err != nil {
		t.Fatal(err)
	}
	plain := newBook(t)
	add := func(r *job.Receipt) {
		t.Helper()
		for _, bk := range []*ledger.Book{b, plain} {
			if _, err := bk.AddReceipt(r); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, bk := range []*ledger.Book{b, plain} {
		if err := bk.AddGrant(k.grant(testFaucet, "client", 1000, "g")); err != nil {
			t.Fatal(err)
		}
	}
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
