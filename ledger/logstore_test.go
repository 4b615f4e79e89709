package ledger_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/ledger"
)

// recordAt returns the offset of r's receipt record in the log at path.
func recordAt(t *testing.T, path string, r *job.Receipt) int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, ledger.EncodeRecord('R', job.Encode(r)))
	if i < 0 {
		t.Fatalf("receipt %d of %s is not in the log", r.Seq, r.Payer)
	}
	return int64(i)
}

// TestReadBackDamaged: a Ledger keeps its receipts' bodies in the log and
// reads them back for a sync answer or a list of receipts. A log damaged
// under a live ledger gives an error naming the receipt, never a wrong
// record: the framing, the checksum and the receipt's ID are checked.
func TestReadBackDamaged(t *testing.T) {
	k := keys{}
	other := *k.receipt("alice", "bob", 31, 1) // the same length as r1, another receipt
	cases := []struct {
		name   string
		damage func(f *os.File, off int64) error
		want   string
	}{
		{"a flipped byte", func(f *os.File, off int64) error {
			_, err := f.WriteAt([]byte{'#'}, off+40)
			return err
		}, "checksum mismatch"},
		{"another receipt in its place", func(f *os.File, off int64) error {
			_, err := f.WriteAt(ledger.EncodeRecord('R', job.Encode(&other)), off)
			return err
		}, "the stored copy is receipt 1 of payer alice, or another receipt"},
		{"a length out of range", func(f *os.File, off int64) error {
			_, err := f.WriteAt(binary.BigEndian.AppendUint32(nil, 1<<31), off)
			return err
		}, "record length"},
		{"another kind of record", func(f *os.File, off int64) error {
			_, err := f.WriteAt(ledger.EncodeRecord('G', job.Encode(&other)), off)
			return err
		}, "a record of type 'G'"},
		{"cut off", func(f *os.File, off int64) error { return f.Truncate(off + 12) }, "EOF"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openLedger(t, dir)
			r1 := k.receipt("alice", "bob", 30, 1)
			if err := l.AddGrant(k.grant(testFaucet, "alice", 100, "g1")); err != nil {
				t.Fatal(err)
			}
			if _, err := l.AddReceipt(r1); err != nil {
				t.Fatal(err)
			}
			if len(job.Encode(r1)) != len(job.Encode(&other)) {
				t.Fatal("the test's other receipt must be as long as r1")
			}
			f, err := os.OpenFile(filepath.Join(dir, ledger.LogFile), os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := c.damage(f, recordAt(t, l.Path(), r1)); err != nil {
				t.Fatal(err)
			}
			gs, rs, err := l.RecordsSince("alice", 0, 0, 100)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "receipt 1 of payer alice") {
				t.Fatalf("RecordsSince = %d grants, %v, %v; want an error naming receipt 1 of alice, %q", len(gs), rs, err, c.want)
			}
			if rs != nil || gs != nil {
				t.Errorf("RecordsSince gave records with its error: %v, %v", gs, rs)
			}
			if rs, err := l.Receipts("bob", 10); err == nil || rs != nil {
				t.Errorf("Receipts = %v, %v; want an error", rs, err)
			}
			if b := l.Balance("alice"); b.Spent != 30 {
				t.Errorf("alice %+v; want 30 spent (the book's sums are in memory)", b)
			}
		})
	}
}

// TestReadBackAfterReopen: what a Ledger reads back from its log is what
// a Book in memory holds of the same records: receipts, a counter-signature
// that came later, the two receipts of a fraud proof; and a double spend of
// a receipt that is only on disk still gives a whole fraud proof.
func TestReadBackAfterReopen(t *testing.T) {
	k := keys{}
	dir := t.TempDir()
	l := openLedger(t, dir)
	b := newBook(t)
	alone := k.receipt("alice", "carol", 5, 2)
	alone.PayeeSig = nil
	fork := job.FraudProof{V: job.Version, A: *k.receipt("alice", "bob", 1, 4), B: *k.receipt("alice", "carol", 2, 4)}
	steps := []func(a adder) error{
		func(a adder) error { return a.AddGrant(k.grant(testFaucet, "alice", 100, "g1")) },
		func(a adder) error { _, err := a.AddReceipt(k.receipt("alice", "bob", 30, 1)); return err },
		func(a adder) error { _, err := a.AddReceipt(alone); return err },
		func(a adder) error { _, err := a.AddReceipt(k.receipt("alice", "carol", 5, 2)); return err },
		func(a adder) error { _, err := a.AddReceipt(k.receipt("dave", "alice", 0, 1)); return err },
		func(a adder) error { return a.AddFraud(&fork) },
	}
	for i, step := range steps {
		if err := step(l); err != nil {
			t.Fatalf("step %d, ledger: %v", i, err)
		}
		if err := step(b); err != nil {
			t.Fatalf("step %d, book: %v", i, err)
		}
	}
	l.Close()
	l = openLedger(t, dir)
	for _, peer := range []string{"alice", "bob", "carol", "dave"} {
		wantG, wantR := b.RecordsSince(peer, 0, 0, 100)
		gs, rs, err := l.RecordsSince(peer, 0, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := string(job.Encode(rs)), string(job.Encode(wantR)); got != want || len(gs) != len(wantG) {
			t.Errorf("%s: the reopened ledger gives %d grants, %s; the book %d, %s", peer, len(gs), got, len(wantG), want)
		}
	}
	// A double spend of slot 1, whose first receipt is only on disk now.
	spend := &job.Receipt{V: job.Version, Network: testNet, Job: testJob, Attempt: 2, Payer: "alice", Payee: "carol",
		Amount: 30, Seq: 1, TimeMS: 1_700_000_000_009}
	sb := spend.SigningBytes()
	spend.PayerSig, spend.PayeeSig = ed25519.Sign(k.key("alice"), sb), ed25519.Sign(k.key("carol"), sb)
	proof, err := l.AddReceipt(spend)
	if err != nil || proof == nil {
		t.Fatalf("AddReceipt(a double spend) = %v, %v; want a fraud proof", proof, err)
	}
	if first := k.receipt("alice", "bob", 30, 1); string(job.Encode(&proof.A)) != string(job.Encode(first)) {
		t.Errorf("the proof's first receipt is %+v; want %+v, read back whole", proof.A, first)
	}
	if err := proof.Validate(); err != nil {
		t.Errorf("the proof does not validate: %v", err)
	}
}
