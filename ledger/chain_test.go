package ledger_test

import (
	"errors"
	"testing"

	"github.com/computemesh/computemesh/ledger"
)

// TestSlotsAnywhere: a book finds a slot's records wherever it keeps them
// (its payer's chain, or apart: far past the chain's end, or several in
// one slot), so that duplicates, double spends and counting work the same
// for a slot far ahead (a payer signing a number out of reach), one the
// chain later reaches, and one that gets a second record.
func TestSlotsAnywhere(t *testing.T) {
	k := keys{}
	cases := []struct {
		name      string
		seqs      []uint64 // alice's receipts to bob, 1 credit each, in this order
		fork      uint64   // a second receipt for this slot (0: none)
		wantChain uint64
	}{
		{"dense", []uint64{1, 2, 3}, 0, 3},
		{"a gap within reach, filled", []uint64{1, 40, 2, 3}, 0, 3},
		{"far ahead, then reached", []uint64{100, 1, 2}, 0, 2},
		{"far ahead, forked", []uint64{1, 1 << 40}, 1 << 40, 1},
		{"a fork in the chain", []uint64{1, 2, 3}, 2, 1},
		{"far ahead, reached, then forked", append([]uint64{70}, seqRange(1, 70)...), 70, 69},
		{"far ahead, reached, counted", append([]uint64{70}, seqRange(1, 70)...), 0, 70},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := newBook(t)
			if err := b.AddGrant(k.grant(testFaucet, "alice", 1000, "g")); err != nil {
				t.Fatal(err)
			}
			added := map[uint64]bool{}
			for _, s := range c.seqs {
				_, err := b.AddReceipt(k.receipt("alice", "bob", 1, s))
				if added[s] {
					if !errors.Is(err, ledger.ErrDuplicate) {
						t.Fatalf("receipt %d again: %v, want a duplicate", s, err)
					}
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				added[s] = true
			}
			if c.fork != 0 {
				p, err := b.AddReceipt(k.receipt("alice", "carol", 1, c.fork))
				if err != nil || p == nil || p.A.Seq != c.fork || p.A.Payee != "bob" {
					t.Fatalf("a second receipt for slot %d: %+v, %v; want a fraud proof with bob's first", c.fork, p, err)
				}
			}
			if got := b.CountedChain("alice"); got != c.wantChain {
				t.Errorf("CountedChain = %d, want %d", got, c.wantChain)
			}
			if got := b.Fraudulent("alice"); got != (c.fork != 0) {
				t.Errorf("Fraudulent = %v, want %v", got, c.fork != 0)
			}
			_, rs := b.Records("alice", ledger.MaxSyncRecords)
			if want := len(added) + min(int(c.fork), 1); len(rs) != want {
				t.Errorf("Records: %d receipts, want %d", len(rs), want)
			}
		})
	}
}

func seqRange(from, to uint64) []uint64 {
	var out []uint64
	for s := from; s < to; s++ {
		out = append(out, s)
	}
	return out
}
