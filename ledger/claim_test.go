package ledger_test

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/ledger"
)

const otherJob = "bafkreie7q3iidccmpvszul7kudcvvuavuo7u6gzlbobczuk5nqk3b4akba"

// TestClaims: a payee's claim on the payer's authorisation pays when no
// receipt does, within what was authorised; a counter-signed receipt of the
// attempt prevails over it, and it prevails over a receipt the payer signed
// alone (a client cannot dodge a claim with a void of its own).
func TestClaims(t *testing.T) {
	k := keys{}
	granted := func(t *testing.T) *ledger.Book {
		b := newBook(t)
		if err := b.AddGrant(k.grant(testFaucet, "alice", 100, "g")); err != nil {
			t.Fatal(err)
		}
		return b
	}
	a1 := k.auth("alice", "bob", testJob, 1, 30, 1)
	t.Run("a claim alone pays", func(t *testing.T) {
		b := granted(t)
		if _, err := b.AddReceipt(k.claim(a1, 20)); err != nil {
			t.Fatal(err)
		}
		if got := b.Balance("bob").Earned; got != 20 {
			t.Fatalf("bob earned %d, want 20", got)
		}
	})
	t.Run("the claim prevails over the payer's void", func(t *testing.T) {
		b := granted(t)
		void := k.receipt("alice", "bob", 0, 1)
		void.PayeeSig = nil
		for _, r := range []*job.Receipt{void, k.claim(a1, 20)} { // the void first: counted, then replaced
			if fraud, err := b.AddReceipt(r); err != nil || fraud != nil {
				t.Fatalf("AddReceipt: %v, %v", fraud, err)
			}
		}
		if got := b.Balance("bob").Earned; got != 20 {
			t.Fatalf("bob earned %d, want 20 (the claim)", got)
		}
		if got := b.Balance("alice"); got.Balance != 80 || got.Pending != 0 {
			t.Fatalf("alice: %+v, want 80 and nothing pending (the void is superseded)", got)
		}
	})
	t.Run("a counter-signed receipt prevails over the claim", func(t *testing.T) {
		b := granted(t)
		for _, r := range []*job.Receipt{k.claim(a1, 25), k.receipt("alice", "bob", 10, 1)} {
			if fraud, err := b.AddReceipt(r); err != nil || fraud != nil {
				t.Fatalf("AddReceipt: %v, %v", fraud, err)
			}
		}
		if got := b.Balance("bob").Earned; got != 10 {
			t.Fatalf("bob earned %d, want 10 (what both signed)", got)
		}
	})
	t.Run("the counter-signature comes later", func(t *testing.T) {
		b := granted(t)
		alone := k.receipt("alice", "bob", 10, 1)
		sig := alone.PayeeSig
		alone.PayeeSig = nil
		for _, r := range []*job.Receipt{alone, k.claim(a1, 25)} {
			if _, err := b.AddReceipt(r); err != nil {
				t.Fatal(err)
			}
		}
		if got := b.Balance("bob").Earned; got != 25 {
			t.Fatalf("bob earned %d before the counter-signature, want 25 (the claim)", got)
		}
		signed := *alone
		signed.PayeeSig = sig
		if _, err := b.AddReceipt(&signed); err != nil {
			t.Fatalf("the counter-signed receipt: %v", err)
		}
		if got := b.Balance("bob").Earned; got != 10 {
			t.Fatalf("bob earned %d after it, want 10", got)
		}
		if _, err := b.AddReceipt(&signed); !errors.Is(err, ledger.ErrDuplicate) {
			t.Fatalf("again: %v, want a duplicate", err)
		}
	})
	t.Run("a receipt of another job in the slot is a double spend", func(t *testing.T) {
		b := granted(t)
		other := k.receipt("alice", "carol", 5, 1)
		if _, err := b.AddReceipt(k.claim(a1, 20)); err != nil {
			t.Fatal(err)
		}
		fraud, err := b.AddReceipt(other)
		if err != nil || fraud == nil {
			t.Fatalf("AddReceipt: %v, %v; want a fraud proof", fraud, err)
		}
		if got := b.Balance("bob").Earned + b.Balance("carol").Earned; got != 0 {
			t.Fatalf("the forked slot paid %d", got)
		}
		c := newBook(t) // the proof convinces a book that saw neither
		if err := c.AddFraud(fraud); err != nil || !c.Fraudulent("alice") {
			t.Fatalf("AddFraud: %v", err)
		}
	})
	t.Run("two claims: the smaller", func(t *testing.T) {
		b := granted(t)
		for _, amt := range []job.Credits{25, 15} {
			if fraud, err := b.AddReceipt(k.claim(a1, amt)); err != nil || fraud != nil {
				t.Fatalf("AddReceipt: %v, %v", fraud, err)
			}
		}
		if got := b.Balance("bob").Earned; got != 15 {
			t.Fatalf("bob earned %d, want 15", got)
		}
	})
	t.Run("forged claims are refused", func(t *testing.T) {
		b := granted(t)
		over := k.claim(a1, 31)
		forgedAuth := k.auth("alice", "bob", testJob, 1, 30, 1)
		forgedAuth.Sig = ed25519.Sign(k.key("bob"), forgedAuth.SigningBytes())
		otherSlot := k.claim(k.auth("alice", "bob", testJob, 1, 30, 2), 5)
		otherSlot.Seq = 1
		otherSlot.PayeeSig = ed25519.Sign(k.key("bob"), otherSlot.SigningBytes())
		byCarol := k.claim(a1, 5)
		byCarol.PayeeSig = ed25519.Sign(k.key("carol"), byCarol.SigningBytes())
		for name, r := range map[string]*job.Receipt{
			"more than authorised": over, "an authorisation the payee signed": k.claim(forgedAuth, 5),
			"another slot's authorisation": otherSlot, "signed by another than the payee": byCarol,
		} {
			if _, err := b.AddReceipt(r); !errors.Is(err, ledger.ErrRejected) {
				t.Errorf("%s: %v, want a refusal", name, err)
			}
		}
		if got := b.Balance("bob").Earned; got != 0 {
			t.Fatalf("bob earned %d from forged claims", got)
		}
	})
}

// TestAuthorizeVoidAndRestart: an authorisation takes a slot durably; a
// restart lists it as unfilled until its receipt, claim or void comes.
func TestAuthorizeVoidAndRestart(t *testing.T) {
	k, dir := keys{}, t.TempDir()
	l := openLedger(t, dir)
	if err := l.AddGrant(k.grant(testFaucet, "alice", 100, "g")); err != nil {
		t.Fatal(err)
	}
	sign := func(b []byte) ([]byte, error) { return ed25519.Sign(k.key("alice"), b), nil }
	var auths []*job.Authorization
	for i, jobID := range []string{testJob, otherJob} {
		a, err := l.Authorize(&job.Authorization{V: job.Version, Network: testNet, Job: jobID, Attempt: 1, Payer: "alice",
			Payee: "bob", Max: 30, ExpiresMS: 1_800_000_000_000}, sign)
		if err != nil || a.Seq != uint64(i+1) {
			t.Fatalf("Authorize = %+v, %v; want slot %d", a, err, i+1)
		}
		auths = append(auths, a)
	}
	l.Close() // a crash: both attempts' outcomes unknown
	l = openLedger(t, dir)
	if got := l.Unfilled("alice"); len(got) != 2 || got[0].Seq != 1 || got[1].Seq != 2 {
		t.Fatalf("Unfilled after a restart = %+v, want slots 1 and 2", got)
	}
	if got := l.NextSeq("alice"); got != 3 {
		t.Fatalf("NextSeq = %d, want 3", got)
	}
	if _, err := l.AddReceipt(k.claim(auths[0], 12)); err != nil { // bob ran the first
		t.Fatal(err)
	}
	for _, a := range l.Unfilled("alice") {
		if _, err := l.Void(&a, 1_700_000_000_000, sign); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Void(auths[0], 1_700_000_000_000, sign); err != nil { // voiding the claimed slot too
		t.Fatal(err)
	}
	if _, _, err := l.Pay(&job.Receipt{V: job.Version, Network: testNet, Job: testJob, Attempt: 1, Payer: "alice",
		Payee: "bob", Amount: 3, Seq: 2, TimeMS: 1_700_000_000_000}, sign); err == nil {
		t.Fatal("paying a slot already voided for another job: no error")
	}
	if got := l.Balance("alice"); got.Balance != 88 || got.Spent != 12 || got.Pending != 0 || len(l.Unfilled("alice")) != 0 {
		t.Fatalf("alice: %+v, unfilled %d; want 88 (the claim counted, the voids pay nothing)", got, len(l.Unfilled("alice")))
	}
	if rep, err := l.Verify(); err != nil || len(rep.Problems) != 0 {
		t.Fatalf("Verify: %+v, %v", rep, err)
	}
}

// TestKill9Payer: a client's ledger killed with SIGKILL at any point of
// authorise → pay keeps every slot it acknowledged: each is paid or listed
// as unfilled (to void), and no number is ever handed out twice.
func TestKill9Payer(t *testing.T) {
	if dir := os.Getenv("LEDGER_KILL9_PAYER"); dir != "" {
		kill9Payer(dir)
		return
	}
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	authorized, paid := 0, 0
	killChild(t, "TestKill9Payer", "LEDGER_KILL9_PAYER="+dir, func(line string) bool {
		if n, ok := strings.CutPrefix(line, "authorized "); ok {
			authorized, _ = strconv.Atoi(n)
		} else if n, ok := strings.CutPrefix(line, "paid "); ok {
			paid, _ = strconv.Atoi(n)
		}
		return authorized >= 40
	})
	if authorized < 40 {
		t.Fatalf("the child acknowledged %d authorisations before dying", authorized)
	}
	l := openLedger(t, dir)
	got := l.Balance("bob")
	unfilled := l.Unfilled("alice")
	if got.Receipts < paid || got.Receipts+len(unfilled) < authorized {
		t.Fatalf("after kill -9: %d receipts and %d unfilled slots, but %d authorised and %d paid were acknowledged", got.Receipts, len(unfilled), authorized, paid)
	}
	if next := l.NextSeq("alice"); next <= uint64(authorized) {
		t.Fatalf("NextSeq %d after %d acknowledged slots: a number would be signed twice", next, authorized)
	}
	sign := func(b []byte) ([]byte, error) { return ed25519.Sign(keys{}.key("alice"), b), nil }
	for _, a := range unfilled {
		if _, err := l.Void(&a, 1_700_000_000_000, sign); err != nil {
			t.Fatal(err)
		}
	}
	if a := l.Balance("alice"); a.Balance+got.Earned != 1000*job.Nano || a.Pending != 0 || l.Stats().FraudulentPayers != 0 {
		t.Fatalf("alice %+v, bob earned %s after voiding: credits not conserved, or a fork", a, got.Earned)
	}
}

func kill9Payer(dir string) {
	l, k := childLedger(dir)
	sign := func(b []byte) ([]byte, error) { return ed25519.Sign(k.key("alice"), b), nil }
	for i := 1; i < 1000; i++ {
		a, err := l.Authorize(&job.Authorization{V: job.Version, Network: testNet, Job: testJob, Attempt: i, Payer: "alice",
			Payee: "bob", Max: job.Nano, ExpiresMS: 1_800_000_000_000}, sign)
		die(err)
		fmt.Printf("authorized %d\n", i)
		_, _, err = l.Pay(&job.Receipt{V: job.Version, Network: testNet, Job: testJob, Attempt: i, Payer: "alice",
			Payee: "bob", Amount: job.Nano, Seq: a.Seq, TimeMS: 1_700_000_000_000}, sign)
		die(err)
		fmt.Printf("paid %d\n", i)
	}
	time.Sleep(time.Minute) // killed before
	os.Exit(0)
}

// TestAddAll: many records in one write; duplicates (within the batch and
// of what is held) are skipped, a forged one is refused alone, and what was
// added is there after a restart. With a BatchVerifier too: the batch's
// check fails on the forged signature and each is checked on its own.
func TestAddAll(t *testing.T) {
	for _, batched := range []bool{false, true} {
		t.Run(fmt.Sprintf("batched=%v", batched), func(t *testing.T) {
			var batches atomic.Int32
			var extra []ledger.Option
			if batched {
				extra = append(extra, ledger.WithBatchVerifier(batchVerifier(&batches)))
			}
			testAddAll(t, extra...)
			if batched && batches.Load() != 3 {
				t.Fatalf("%d batch checks, want 3 (one per AddAll with receipts to check)", batches.Load())
			}
		})
	}
}

func testAddAll(t *testing.T, extra ...ledger.Option) {
	k, dir := keys{}, t.TempDir()
	l := openLedger(t, dir, extra...)
	g := k.grant(testFaucet, "alice", 100, "g")
	if err := l.AddGrant(g); err != nil {
		t.Fatal(err)
	}
	g2 := k.grant(testFaucet, "alice", 50, "g2")
	r1, r2 := k.receipt("alice", "bob", 10, 1), k.receipt("alice", "bob", 20, 2)
	alone := *r2
	alone.PayeeSig = nil
	forged := k.receipt("alice", "carol", 5, 3)
	forged.PayerSig = ed25519.Sign(k.key("mallory"), forged.SigningBytes())
	added, frauds, refused, err := l.AddAll([]job.Grant{*g, *g2, *g2}, []job.Receipt{*r1, *r2, alone, *forged})
	if err != nil || added != 4 || len(frauds) != 0 || len(refused) != 1 || !errors.Is(refused[0], ledger.ErrRejected) ||
		!strings.Contains(refused[0].Error(), "payer_sig") {
		t.Fatalf("AddAll = %d added, %v frauds, refused %v, %v; want 4 (g2 once, r1, r2 twice), the forged one refused", added, frauds, refused, err)
	}
	check := func(l *ledger.Ledger, more bool) {
		t.Helper()
		n, pending := 2, 0
		if more {
			n, pending = 4, 2 // 4 and 5 wait for the forged 3's place
		}
		if a := l.Balance("alice"); a.Granted != 150 || a.Spent != 30 || a.Balance != 120 || a.Pending != pending {
			t.Fatalf("alice %+v; want 150 granted, 30 spent, %d pending", a, pending)
		}
		r, err := l.Receipts("bob", 10)
		if err != nil || len(r) != n {
			t.Fatalf("bob's receipts %+v, %v; want %d", r, err, n)
		}
		for _, r := range r {
			if cosigned := len(r.PayeeSig) != 0; cosigned != (r.Seq != 4) {
				t.Fatalf("bob's receipt %d counter-signed: %v; want all but 4 (its forged counter-signature refused)", r.Seq, cosigned)
			}
		}
		if a := l.Balance("carol"); a.Earned != 0 {
			t.Fatalf("carol %+v; want nothing earned by the forged receipt", a)
		}
	}
	check(l, false)
	// A forged counter-signature of a receipt held without one is refused
	// alone too, beside a valid record.
	r4 := k.receipt("alice", "bob", 1, 4)
	held := *r4
	held.PayeeSig = nil
	if _, _, refused, err := l.AddAll(nil, []job.Receipt{held}); err != nil || len(refused) != 0 {
		t.Fatalf("AddAll(r4 without its counter-signature) refused %v, %v", refused, err)
	}
	badCo := *r4
	badCo.PayeeSig = ed25519.Sign(k.key("mallory"), r4.SigningBytes())
	r5 := k.receipt("alice", "bob", 1, 5)
	added, _, refused, err = l.AddAll(nil, []job.Receipt{badCo, *r5})
	if err != nil || added != 1 || len(refused) != 1 || !strings.Contains(refused[0].Error(), "payee_sig") {
		t.Fatalf("AddAll(forged counter-signature, r5) = %d added, refused %v, %v; want r5 added, the forgery refused", added, refused, err)
	}
	check(l, true)
	l.Close()
	check(openLedger(t, dir, extra...), true)
}
