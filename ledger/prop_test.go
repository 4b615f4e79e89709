package ledger_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/ledger"
	"pgregory.net/rapid"
)

// Property tests (pgregory.net/rapid): random sets of signed grants and
// receipts, double spends and replays included, added in random orders.
// Rerun a failure with the -rapid.seed it prints.

var propPeers = []string{"p0", "p1", "p2", "p3", "p4"}

// record is one thing to add: a grant, a receipt or a fraud proof.
type record struct {
	g *job.Grant
	r *job.Receipt
	f *job.FraudProof
}

func (rec record) String() string {
	switch {
	case rec.g != nil:
		return fmt.Sprintf("grant %s %v→%s", rec.g.Nonce, rec.g.Amount, rec.g.To)
	case rec.r != nil:
		return fmt.Sprintf("receipt %s#%d %v→%s", rec.r.Payer, rec.r.Seq, rec.r.Amount, rec.r.Payee)
	default:
		return fmt.Sprintf("fraud %s#%d", rec.f.A.Payer, rec.f.A.Seq)
	}
}

// drawRecords draws grants and receipts between a few peers: each payer's
// receipts mostly follow its chain (the next sequence number), some skip
// one (a gap), some reuse a number (a fork: a double spend), and payers
// pay each other in cycles. Some records are drawn twice (gossip replays)
// and some conflicts also come as proofs. Orders are drawn by the tests.
func drawRecords(t *rapid.T, k keys) []record {
	return drawRecordsOf(t, k, propPeers, propPeers)
}

// drawRecordsOf draws grants to granted (none if empty) and receipts
// between peers.
func drawRecordsOf(t *rapid.T, k keys, granted, peers []string) []record {
	var recs []record
	for i, n := 0, rapid.IntRange(0, 6).Draw(t, "grants"); i < n && len(granted) > 0; i++ {
		to := rapid.SampledFrom(granted).Draw(t, "grant.to")
		amt := job.Credits(rapid.Int64Range(1, 1000).Draw(t, "grant.amount"))
		recs = append(recs, record{g: k.grant(testFaucet, to, amt, fmt.Sprintf("n%d", i))})
	}
	last := map[string]uint64{}
	for i, n := 0, rapid.IntRange(0, 20).Draw(t, "receipts"); i < n; i++ {
		payer := rapid.SampledFrom(peers).Draw(t, "payer")
		payee := rapid.SampledFrom(peers).Filter(func(p string) bool { return p != payer }).Draw(t, "payee")
		amt := job.Credits(rapid.Int64Range(0, 500).Draw(t, "amount"))
		seq := last[payer] + 1
		switch rapid.IntRange(0, 9).Draw(t, "chain") {
		case 0: // a gap
			seq++
		case 1: // a fork
			seq = rapid.Uint64Range(1, seq).Draw(t, "fork")
		}
		last[payer] = max(last[payer], seq)
		r := k.receipt(payer, payee, amt, seq)
		switch rapid.IntRange(0, 5).Draw(t, "form") {
		case 0: // signed by the payer alone
			r.PayeeSig = nil
		case 1: // the payee's claim on the slot, beside the receipt or alone
			a := k.auth(payer, payee, testJob, 1, amt+job.Credits(rapid.Int64Range(0, 100).Draw(t, "claim.over")), seq)
			c := k.claim(a, job.Credits(rapid.Int64Range(0, int64(a.Max)).Draw(t, "claim.amount")))
			recs = append(recs, record{r: c})
			if rapid.Bool().Draw(t, "claim.alone") {
				continue
			}
		}
		recs = append(recs, record{r: r})
	}
	// Replays of records already drawn.
	for i, n := 0, rapid.IntRange(0, 3).Draw(t, "replays"); i < n && len(recs) > 0; i++ {
		recs = append(recs, recs[rapid.IntRange(0, len(recs)-1).Draw(t, "replay")])
	}
	// Fraud proofs for some conflicting pairs.
	for i := range recs {
		for j := i + 1; j < len(recs); j++ {
			a, b := recs[i].r, recs[j].r
			if a != nil && b != nil && job.Conflict(a, b) && rapid.Bool().Draw(t, "proof") {
				recs = append(recs, record{f: &job.FraudProof{V: job.Version, A: *a, B: *b}})
			}
		}
	}
	return recs
}

type adder interface {
	AddReceipt(*job.Receipt) (*job.FraudProof, error)
	AddGrant(*job.Grant) error
	AddFraud(*job.FraudProof) error
}

func add(t *rapid.T, b adder, rec record) {
	var err error
	switch {
	case rec.g != nil:
		err = b.AddGrant(rec.g)
	case rec.r != nil:
		_, err = b.AddReceipt(rec.r)
	default:
		err = b.AddFraud(rec.f)
	}
	if err != nil && !strings.Contains(err.Error(), "already recorded") {
		t.Fatalf("adding %v: %v", rec, err)
	}
}

// model computes what any book must say of a set of records, by the rules
// written out plainly and iterated until nothing changes (the reference
// fixed point): grants are the only source of credit; a slot (payer,
// number) is forked when two of its records Conflict; an unforked slot's
// record is its counter-signed receipt, else its smallest claim, else the
// receipt its payer signed alone; a slot's record counts when every
// earlier slot of its payer is unforked with its record counted, its own
// is unforked, and the payer's counted balance covers it. It returns the
// credits granted, the counted balances, the slots counted and the payers
// with a forked slot.
func model(recs []record) (granted job.Credits, balances map[string]job.Credits, counted int, fraud []string) {
	balances = map[string]job.Credits{}
	grants := map[[32]byte]bool{}
	slots := map[string]map[[32]byte]*job.Receipt{}
	key := func(payer string, seq uint64) string { return fmt.Sprintf("%s#%d", payer, seq) }
	keep := func(r *job.Receipt) {
		k := key(r.Payer, r.Seq)
		if slots[k] == nil {
			slots[k] = map[[32]byte]*job.Receipt{}
		}
		if old := slots[k][r.ID()]; old == nil || len(old.PayeeSig) == 0 && !r.IsClaim() {
			slots[k][r.ID()] = r
		}
	}
	for _, rec := range recs {
		switch {
		case rec.g != nil:
			if id := rec.g.ID(); !grants[id] {
				grants[id] = true
				granted += rec.g.Amount
				balances[rec.g.To] += rec.g.Amount
			}
		case rec.r != nil:
			keep(rec.r)
		default:
			keep(&rec.f.A)
			keep(&rec.f.B)
		}
	}
	record := map[string]*job.Receipt{} // the slot's record; absent: forked or empty
	for k, rs := range slots {
		var all []*job.Receipt
		for _, r := range rs {
			all = append(all, r)
		}
		forked := false
		for i := range all {
			for j := i + 1; j < len(all); j++ {
				forked = forked || job.Conflict(all[i], all[j])
			}
		}
		if forked {
			if p := all[0].Payer; !slices.Contains(fraud, p) {
				fraud = append(fraud, p)
			}
			continue
		}
		var best *job.Receipt
		rank := func(r *job.Receipt) int {
			switch {
			case !r.IsClaim() && len(r.PayeeSig) > 0:
				return 0
			case r.IsClaim():
				return 1
			}
			return 2
		}
		for _, r := range all {
			switch {
			case best == nil, rank(r) < rank(best):
				best = r
			case rank(r) == 1 && rank(best) == 1 && (r.Amount < best.Amount ||
				r.Amount == best.Amount && bytes.Compare(idOf(r), idOf(best)) < 0):
				best = r
			}
		}
		record[k] = best
	}
	isCounted := map[string]bool{}
	for changed := true; changed; {
		changed = false
		for k, r := range record {
			if isCounted[k] || balances[r.Payer] < r.Amount {
				continue
			}
			ok := true
			for s := uint64(1); s < r.Seq && ok; s++ {
				ok = isCounted[key(r.Payer, s)]
			}
			if !ok {
				continue
			}
			isCounted[k] = true
			balances[r.Payer] -= r.Amount
			balances[r.Payee] += r.Amount
			counted++
			changed = true
		}
	}
	slices.Sort(fraud)
	return granted, balances, counted, fraud
}

func bookState(b *ledger.Book) (map[string]job.Credits, []string, ledger.Stats) {
	m := map[string]job.Credits{}
	for _, p := range b.Peers() {
		if bal := b.Balance(p); bal.Granted+bal.Earned-bal.Spent != bal.Balance {
			panic(fmt.Sprintf("%s: %+v: balance is not granted + earned − spent", p, bal))
		} else {
			m[p] = bal.Balance
		}
	}
	return m, b.FraudulentPayers(), b.Stats()
}

func nonZero(m map[string]job.Credits) map[string]job.Credits {
	out := map[string]job.Credits{}
	for p, c := range m {
		if c != 0 {
			out[p] = c
		}
	}
	return out
}

// TestPropConservation: whatever the records and their order, every
// balance is ≥ 0, the balances sum to the credits granted, and each is the
// reference fixed point's (model).
func TestPropConservation(t *testing.T) {
	k := keys{}
	rapid.Check(t, func(t *rapid.T) {
		recs := rapid.Permutation(drawRecords(t, k)).Draw(t, "order")
		b := newBook(t)
		for _, rec := range recs {
			add(t, b, rec)
		}
		balances, _, st := bookState(b)
		var sum job.Credits
		for p, c := range balances {
			if c < 0 {
				t.Fatalf("%s's balance is %d", p, c)
			}
			sum += c
		}
		granted, want, counted, _ := model(recs)
		if sum != st.Granted || st.Granted != granted {
			t.Fatalf("balances sum to %d, the book says %d were granted, the model %d", sum, st.Granted, granted)
		}
		if fmt.Sprint(nonZero(balances)) != fmt.Sprint(nonZero(want)) || st.Counted != counted {
			t.Fatalf("balances %v (%d receipts counted), model %v (%d)", balances, st.Counted, want, counted)
		}
	})
}

// TestPropNoCreditFromNothing: records signed by keys that hold no grant —
// receipts in cycles, forks, gaps, in any order, beside grants to other
// keys — give none of them a spendable balance, and nothing they sign
// counts.
func TestPropNoCreditFromNothing(t *testing.T) {
	k := keys{}
	sybils := []string{"s0", "s1", "s2", "s3"}
	rapid.Check(t, func(t *rapid.T) {
		recs := append(drawRecordsOf(t, k, nil, sybils), drawRecordsOf(t, k, []string{"p0", "p1"}, []string{"p0", "p1"})...)
		b := newBook(t)
		for _, rec := range rapid.Permutation(recs).Draw(t, "order") {
			add(t, b, rec)
		}
		for _, s := range sybils {
			if bal := b.Balance(s); bal.Balance != 0 || bal.Earned != 0 || bal.Spent != 0 || b.Spendable(s) != 0 {
				t.Fatalf("key %s, which holds no grant, has %+v", s, bal)
			}
		}
	})
}

// TestPropOrderIndependence: any permutation of the same records gives the
// same balances, the same fraudulent payers and the same counts.
func TestPropOrderIndependence(t *testing.T) {
	k := keys{}
	rapid.Check(t, func(t *rapid.T) {
		recs := drawRecords(t, k)
		perm := rapid.Permutation(recs).Draw(t, "order")
		b1, b2 := newBook(t), newBook(t)
		for i := range recs {
			add(t, b1, recs[i])
			add(t, b2, perm[i])
		}
		m1, f1, s1 := bookState(b1)
		m2, f2, s2 := bookState(b2)
		if fmt.Sprint(m1) != fmt.Sprint(m2) || !slices.Equal(f1, f2) || s1 != s2 {
			t.Fatalf("order changed the result:\n%v %v %+v\n%v %v %+v", m1, f1, s1, m2, f2, s2)
		}
		for _, p := range propPeers {
			if b1.NextSeq(p) != b2.NextSeq(p) {
				t.Fatalf("NextSeq(%s): %d and %d", p, b1.NextSeq(p), b2.NextSeq(p))
			}
		}
	})
}

// TestPropDoubleSpendDetected: a payer that signed two receipts with one
// sequence number is marked, whatever the order the receipts arrive in,
// the receipt that completes the pair returns a proof that other books
// accept, and no honest payer is ever marked.
func TestPropDoubleSpendDetected(t *testing.T) {
	k := keys{}
	rapid.Check(t, func(t *rapid.T) {
		recs := rapid.Permutation(drawRecords(t, k)).Draw(t, "order")
		_, _, _, wantFraud := model(recs)
		b := newBook(t)
		for _, rec := range recs {
			if rec.r == nil {
				add(t, b, rec)
				continue
			}
			was := b.Fraudulent(rec.r.Payer)
			p, err := b.AddReceipt(rec.r)
			if err != nil && !strings.Contains(err.Error(), "already recorded") {
				t.Fatalf("adding %v: %v", rec, err)
			}
			if err == nil && !was && b.Fraudulent(rec.r.Payer) && p == nil {
				t.Fatalf("%v made its payer fraudulent without returning a proof", rec)
			}
			if p != nil {
				if err := newBook(t).AddFraud(p); err != nil {
					t.Fatalf("the proof returned for %v is refused by a fresh book: %v", rec, err)
				}
			}
		}
		if got := b.FraudulentPayers(); !slices.Equal(got, wantFraud) {
			t.Fatalf("fraudulent payers %v, want %v", got, wantFraud)
		}
	})
}

// TestPropLedgerReopen: a Ledger reopened from its log says what it said.
func TestPropLedgerReopen(t *testing.T) {
	k := keys{}
	base := t.TempDir()
	n := 0
	rapid.Check(t, func(t *rapid.T) {
		n++
		dir := filepath.Join(base, fmt.Sprint(n))
		l, err := ledger.Open(dir, opts()...)
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range drawRecords(t, k) {
			add(t, l, rec)
		}
		want := stateOf(l)
		l.Close()
		l2, err := ledger.Open(dir, opts()...)
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		defer l2.Close()
		if got := stateOf(l2); got.String() != want.String() {
			t.Fatalf("reopened\n%v\nwant\n%v", got, want)
		}
	})
}

// idOf is r's ID as a slice: of two claims for one amount, the smaller ID
// is the slot's record.
func idOf(r *job.Receipt) []byte {
	id := r.ID()
	return id[:]
}
