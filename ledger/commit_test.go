package ledger_test

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/ledger"
)

// slowFile is a log file whose fsync takes a while, as a disk's does, and
// is counted; it fails once fail is set.
type slowFile struct {
	ledger.LogFileT
	syncs, writes atomic.Int64
	fail          atomic.Bool
}

func (f *slowFile) Write(b []byte) (int, error) {
	f.writes.Add(1)
	return f.LogFileT.Write(b)
}

func (f *slowFile) Sync() error {
	f.syncs.Add(1)
	time.Sleep(5 * time.Millisecond)
	if f.fail.Load() {
		return syscall.EIO
	}
	return f.LogFileT.Sync()
}

// pay is alice's receipt to bob for attempt, paid on l.
func pay(l *ledger.Ledger, k keys, attempt int, signer string) (*job.Receipt, error) {
	r, _, err := l.Pay(&job.Receipt{V: job.Version, Network: testNet, Job: testJob, Attempt: attempt, Payer: "alice",
		Payee: "bob", Amount: job.Nano, TimeMS: 1_700_000_000_000}, func(b []byte) ([]byte, error) {
		return ed25519.Sign(k.key(signer), b), nil
	})
	return r, err
}

// Writers at once share fsyncs (group commit), each still returns only
// once its record is on disk: every number is taken once, and all of them
// are in the log when it is opened again.
func TestGroupCommit(t *testing.T) {
	k, dir := keys{}, t.TempDir()
	l := openLedger(t, dir)
	var sf *slowFile
	ledger.WrapLogFile(l, func(f ledger.LogFileT) ledger.LogFileT { sf = &slowFile{LogFileT: f}; return sf })
	const n = 32
	seqs := make([]uint64, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r, err := pay(l, k, i+1, "alice")
			if err != nil {
				t.Error(err)
				return
			}
			seqs[i] = r.Seq
		})
	}
	wg.Wait()
	seen := map[uint64]bool{}
	for _, s := range seqs {
		if s == 0 || s > n || seen[s] {
			t.Fatalf("sequence numbers %v: want each of 1..%d once", seqs, n)
		}
		seen[s] = true
	}
	if w, s := sf.writes.Load(), sf.syncs.Load(); s >= w {
		t.Fatalf("%d writes took %d fsyncs: want them shared", w, s)
	}
	t.Logf("%d writes, %d fsyncs", sf.writes.Load(), sf.syncs.Load())
	l.Close()
	if got := openLedger(t, dir).NextSeq("alice"); got != n+1 {
		t.Fatalf("reopened: alice's next number is %d, want %d", got, n+1)
	}
}

// A failed fsync is the writer's error, and the ledger takes no more
// records (the book may hold what the disk does not).
func TestSyncFailure(t *testing.T) {
	k := keys{}
	l := openLedger(t, t.TempDir())
	var sf *slowFile
	ledger.WrapLogFile(l, func(f ledger.LogFileT) ledger.LogFileT { sf = &slowFile{LogFileT: f}; return sf })
	if _, err := pay(l, k, 1, "alice"); err != nil {
		t.Fatal(err)
	}
	sf.fail.Store(true)
	if _, err := pay(l, k, 2, "alice"); !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), "syncing") {
		t.Fatalf("Pay when fsync fails: %v; want the fsync's error", err)
	}
	sf.fail.Store(false)
	err := l.AddGrant(k.grant(testFaucet, "carol", job.Nano, "g1"))
	if err == nil || !strings.Contains(err.Error(), "unusable") {
		t.Fatalf("AddGrant after a failed fsync: %v; want the ledger unusable", err)
	}
}

// A node whose signer is not its ledger's payer gets an error, not a
// receipt that every peer would refuse, however often it tries.
func TestPayWithAnotherKey(t *testing.T) {
	k := keys{}
	l := openLedger(t, t.TempDir())
	for range 2 {
		if _, err := pay(l, k, 1, "mallory"); err == nil || !strings.Contains(err.Error(), "does not verify for its account alice") {
			t.Fatalf("Pay signed with another key: %v", err)
		}
	}
	if _, err := pay(l, k, 1, "alice"); err != nil {
		t.Fatalf("Pay signed with the payer's key: %v", err)
	}
}

// The payee's side: a receipt its payer signed is checked once, signed and
// kept; one with a forged payer signature, or a claim, is refused and
// leaves the ledger as it was; the same receipt again is a duplicate that
// still comes back counter-signed.
func TestCounterSign(t *testing.T) {
	k, dir := keys{}, t.TempDir()
	l := openLedger(t, dir)
	bob := func(b []byte) ([]byte, error) { return ed25519.Sign(k.key("bob"), b), nil }
	r := &job.Receipt{V: job.Version, Network: testNet, Job: testJob, Attempt: 1, Payer: "alice", Payee: "bob",
		Amount: job.Nano, Seq: 1, TimeMS: 1_700_000_000_001}
	r.PayerSig = ed25519.Sign(k.key("alice"), r.SigningBytes())

	forged := *r
	forged.Amount = 2 * job.Nano
	if _, _, err := l.CounterSign(&forged, bob); err == nil || !strings.Contains(err.Error(), "payer_sig") {
		t.Fatalf("a receipt whose payer signature does not match: %v", err)
	}
	if _, _, err := l.CounterSign(k.claim(k.auth("alice", "bob", testJob, 1, 5, 1), 1), bob); err == nil || !strings.Contains(err.Error(), "nothing to counter-sign") {
		t.Fatalf("a claim: %v", err)
	}
	if got := l.Balance("bob").Receipts; got != 0 {
		t.Fatalf("refused receipts left %d in the ledger", got)
	}
	signed, _, err := l.CounterSign(r, bob)
	if err != nil {
		t.Fatal(err)
	}
	if err := verifier()("bob", signed.SigningBytes(), signed.PayeeSig); err != nil {
		t.Fatalf("the counter-signature: %v", err)
	}
	again, _, err := l.CounterSign(r, bob)
	if !errors.Is(err, ledger.ErrDuplicate) || again == nil || len(again.PayeeSig) == 0 {
		t.Fatalf("the same receipt again: %v, %v; want a duplicate, counter-signed", again, err)
	}
	l.Close()
	if b := openLedger(t, dir).Balance("bob"); b.Receipts != 1 {
		t.Fatalf("reopened: bob %+v, want the receipt kept", b)
	}
}
