package ledger_test

import (
	"slices"
	"testing"

	"github.com/computemesh/computemesh/job"
)

// TestRecordsSince: a judge that synced before gets the payer's chain past
// what counts in its view, and of what was made since its last sync the
// claims in its counted slots and the payer's earnings (not the receipts
// it counts already); its spending past After is never left out, however
// old it claims to be.
func TestRecordsSince(t *testing.T) {
	k := keys{}
	b := newBook(t)
	if err := b.AddGrant(k.grant(testFaucet, "alice", 100, "g")); err != nil {
		t.Fatal(err)
	}
	for seq := uint64(1); seq <= 5; seq++ {
		r := k.receipt("alice", "bob", 1, seq) // TimeMS 1_700_000_000_000 + seq
		if _, err := b.AddReceipt(r); err != nil {
			t.Fatal(err)
		}
	}
	claim := k.claim(k.auth("alice", "bob", testJob, 2, 5, 6), 1) // slot 6, TimeMS …006
	if _, err := b.AddReceipt(claim); err != nil {
		t.Fatal(err)
	}
	in := k.receipt("carol", "alice", 0, 1)
	in.TimeMS = 1_700_000_000_100
	k.sign(in)
	if _, err := b.AddReceipt(in); err != nil {
		t.Fatal(err)
	}
	if got := b.CountedChain("alice"); got != 6 {
		t.Fatalf("CountedChain = %d, want 6", got)
	}
	seqs := func(rs []job.Receipt) (out []uint64) {
		for _, r := range rs {
			out = append(out, r.Seq)
		}
		return out
	}
	for _, c := range []struct {
		after   uint64
		since   int64
		grants  int
		payer   []uint64 // alice's chain sent
		payeeIn bool     // carol's receipt to alice sent
	}{
		{0, 0, 1, []uint64{1, 2, 3, 4, 5, 6}, true},
		{3, 1_800_000_000_000, 1, []uint64{4, 5, 6}, false},
		{6, 1_700_000_000_004, 1, []uint64{6}, true}, // made since: the claim again, not 4 and 5
		{6, 1_800_000_000_000, 1, nil, false},
	} {
		gs, rs := b.RecordsSince("alice", c.after, c.since, 100)
		var chain []uint64
		in := false
		for _, r := range rs {
			if r.Payer == "alice" {
				chain = append(chain, r.Seq)
			} else {
				in = true
			}
		}
		if len(gs) != c.grants || !slices.Equal(chain, c.payer) || in != c.payeeIn {
			t.Errorf("RecordsSince(after %d, since %d): %d grants, chain %v, incoming %v; want %d, %v, %v (all: %v)",
				c.after, c.since, len(gs), chain, in, c.grants, c.payer, c.payeeIn, seqs(rs))
		}
	}
}
