package ledger_test

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/ledger"
)

// state is everything a test compares between a ledger and its reopening.
type state struct {
	balances map[string]ledger.Balance
	stats    ledger.Stats
	fraud    string
	next     uint64
}

func stateOf(l interface {
	Peers() []string
	Balance(string) ledger.Balance
	Stats() ledger.Stats
	FraudulentPayers() []string
	NextSeq(string) uint64
}) state {
	s := state{balances: map[string]ledger.Balance{}, stats: l.Stats(), fraud: strings.Join(l.FraudulentPayers(), ","), next: l.NextSeq("alice")}
	for _, p := range l.Peers() {
		s.balances[p] = l.Balance(p)
	}
	return s
}

func (s state) String() string {
	return fmt.Sprintf("%+v", map[string]any{"b": s.balances, "s": s.stats, "f": s.fraud, "n": s.next})
}

// fill adds a grant, three receipts of alice and a double spend of mallory.
func fill(t *testing.T, k keys, l *ledger.Ledger) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(l.AddGrant(k.grant(testFaucet, "alice", 100*job.Nano, "g1")))
	must(l.AddGrant(k.grant(testFaucet, "mallory", 10*job.Nano, "g2")))
	for seq := uint64(1); seq <= 3; seq++ {
		_, err := l.AddReceipt(k.receipt("alice", "bob", job.Credits(seq)*job.Nano, seq))
		must(err)
	}
	_, err := l.AddReceipt(k.receipt("mallory", "bob", 8*job.Nano, 1))
	must(err)
	p, err := l.AddReceipt(k.receipt("mallory", "carol", 8*job.Nano, 1))
	must(err)
	if p == nil {
		t.Fatal("no fraud proof for mallory's double spend")
	}
}

func TestLedgerReopen(t *testing.T) {
	k, dir := keys{}, t.TempDir()
	l := openLedger(t, dir)
	fill(t, k, l)
	want := stateOf(l)
	// bob earns alice's 6; mallory's forked receipts (8 to bob, 8 to carol)
	// do not count.
	if want.balances["bob"].Earned != 6*job.Nano || want.balances["bob"].PendingIn != 8*job.Nano || want.fraud != "mallory" || want.next != 4 {
		t.Fatalf("unexpected state %v", want)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.AddReceipt(k.receipt("alice", "bob", job.Nano, 9)); err == nil {
		t.Fatal("AddReceipt after Close succeeded")
	}
	for _, verify := range []bool{false, true} {
		l2 := openLedger(t, dir, ledger.WithVerifyOnOpen(verify))
		if got := stateOf(l2); got.String() != want.String() {
			t.Fatalf("verify on open %v: reopened state\n%v\nwant\n%v", verify, got, want)
		}
		if _, err := l2.AddReceipt(k.receipt("alice", "bob", 3*job.Nano, 3)); !errors.Is(err, ledger.ErrDuplicate) {
			t.Fatalf("a replay after reopening: %v, want ErrDuplicate", err)
		}
		l2.Close()
	}
	// A proof brought by gossip to a fresh ledger is persisted too.
	dir2 := t.TempDir()
	l3 := openLedger(t, dir2)
	if err := l3.AddFraud(l.FraudProof("mallory")); err != nil {
		t.Fatal(err)
	}
	l3.Close()
	if l4 := openLedger(t, dir2); !l4.Fraudulent("mallory") || l4.Balance("carol").PendingIn != 8*job.Nano {
		t.Fatalf("the fraud proof did not survive a reopen: %v", stateOf(l4))
	}
}

func TestLedgerOtherNetwork(t *testing.T) {
	dir := t.TempDir()
	openLedger(t, dir).Close()
	_, err := ledger.Open(dir, ledger.WithFaucet("othernet", testFaucet), ledger.WithVerifier(verifier()))
	if err == nil || !strings.Contains(err.Error(), `belongs to network "testnet"`) || !strings.Contains(err.Error(), "offset 0") {
		t.Fatalf("Open with another network: %v", err)
	}
}

// recordEnds returns the offsets at which the log's records end.
func recordEnds(t *testing.T, path string) []int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var ends []int64
	for off := int64(0); off < int64(len(b)); {
		n := int64(b[off])<<24 | int64(b[off+1])<<16 | int64(b[off+2])<<8 | int64(b[off+3])
		off += 8 + n
		ends = append(ends, off)
	}
	return ends
}

// TestTornTail simulates a kill -9 in the middle of an append: the file is
// cut at every point of its last record (and padded with zeros, as a crash
// can leave it); reopening keeps every complete record, drops the torn one
// with an error that says what was dropped, and the ledger goes on.
func TestTornTail(t *testing.T) {
	k, src := keys{}, t.TempDir()
	l := openLedger(t, src)
	fill(t, k, l)
	l.Close()
	path := filepath.Join(src, ledger.LogFile)
	full, _ := os.ReadFile(path)
	ends := recordEnds(t, path)
	lastStart, end := ends[len(ends)-2], ends[len(ends)-1]
	// The state without the last record (mallory's second receipt).
	ref := t.TempDir()
	os.WriteFile(filepath.Join(ref, ledger.LogFile), full[:lastStart], 0o600)
	want := stateOf(openLedger(t, ref))

	cuts := []int64{lastStart + 1, lastStart + 4, lastStart + 8, lastStart + 9, (lastStart + end) / 2, end - 1}
	for _, cut := range cuts {
		for _, zeros := range []int{0, 100} {
			t.Run(fmt.Sprintf("cut at %d, %d zeros", cut, zeros), func(t *testing.T) {
				dir := t.TempDir()
				data := append(bytes.Clone(full[:cut]), make([]byte, zeros)...)
				p := filepath.Join(dir, ledger.LogFile)
				if err := os.WriteFile(p, data, 0o600); err != nil {
					t.Fatal(err)
				}
				var logs bytes.Buffer
				l := openLedger(t, dir, ledger.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
				if got := stateOf(l); got.String() != want.String() {
					t.Fatalf("state\n%v\nwant\n%v", got, want)
				}
				if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "torn last record") ||
					!strings.Contains(logs.String(), fmt.Sprintf("offset=%d", lastStart)) || !strings.Contains(logs.String(), "bytes_dropped=") {
					t.Fatalf("no error naming offset %d and what was dropped: %q", lastStart, logs.String())
				}
				if cut > lastStart+8 && !strings.Contains(logs.String(), `record="a receipt"`) {
					t.Fatalf("the error does not say a receipt was dropped: %q", logs.String())
				}
				if st, _ := os.Stat(p); st.Size() != lastStart {
					t.Fatalf("file of %d bytes after the repair, want %d", st.Size(), lastStart)
				}
				// The lost receipt can be added again, and all of it survives.
				if _, err := l.AddReceipt(k.receipt("mallory", "carol", 8*job.Nano, 1)); err != nil {
					t.Fatal(err)
				}
				l.Close()
				if got := openLedger(t, dir); !got.Fraudulent("mallory") {
					t.Fatalf("after the repair and an append: %v", stateOf(got))
				}
			})
		}
	}
}

// TestCorruptMiddle: damage before the last record is an error naming the
// file and the offset, never silently dropped.
func TestCorruptMiddle(t *testing.T) {
	k, dir := keys{}, t.TempDir()
	l := openLedger(t, dir)
	fill(t, k, l)
	l.Close()
	path := filepath.Join(dir, ledger.LogFile)
	full, _ := os.ReadFile(path)
	ends := recordEnds(t, path)
	for name, damage := range map[string]func([]byte) int64{
		"payload byte": func(b []byte) int64 { b[ends[2]+20] ^= 0x01; return ends[2] },
		"length":       func(b []byte) int64 { b[ends[1]] = 0xff; return ends[1] },
		"zero length":  func(b []byte) int64 { copy(b[ends[1]:], []byte{0, 0, 0, 0}); return ends[1] },
		"checksum":     func(b []byte) int64 { b[ends[3]+5] ^= 0x80; return ends[3] },
	} {
		t.Run(name, func(t *testing.T) {
			data := bytes.Clone(full)
			off := damage(data)
			os.WriteFile(path, data, 0o600)
			_, err := ledger.Open(dir, opts()...)
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), fmt.Sprintf("offset %d", off)) {
				t.Fatalf("Open of a damaged log: %v; want an error naming %s and offset %d", err, path, off)
			}
		})
	}
}

// failingFile fails every write after budget bytes, as a full disk does,
// having written what fitted.
type failingFile struct {
	ledger.LogFileT
	budget int
}

func (f *failingFile) Write(b []byte) (int, error) {
	if len(b) <= f.budget {
		f.budget -= len(b)
		return f.LogFileT.Write(b)
	}
	n, _ := f.LogFileT.Write(b[:f.budget])
	f.budget = 0
	return n, fmt.Errorf("write: %w", syscall.ENOSPC)
}

func TestDiskFull(t *testing.T) {
	k, dir := keys{}, t.TempDir()
	l := openLedger(t, dir)
	if err := l.AddGrant(k.grant(testFaucet, "alice", 100*job.Nano, "g1")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, ledger.LogFile)
	before, _ := os.Stat(path)
	want := stateOf(l)
	var ff *failingFile
	ledger.WrapLogFile(l, func(f ledger.LogFileT) ledger.LogFileT { ff = &failingFile{f, 30}; return ff })
	_, err := l.AddReceipt(k.receipt("alice", "bob", job.Nano, 1))
	if err == nil || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("AddReceipt on a full disk: %v", err)
	}
	if err := l.AddGrant(k.grant(testFaucet, "bob", job.Nano, "g2")); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("AddGrant on a full disk: %v", err)
	}
	if got := stateOf(l); got.String() != want.String() {
		t.Fatalf("the book changed on a failed write:\n%v\nwant\n%v", got, want)
	}
	if after, _ := os.Stat(path); after.Size() != before.Size() {
		t.Fatalf("the file is %d bytes after failed writes, was %d: a partial record stayed", after.Size(), before.Size())
	}
	ff.budget = 1 << 20 // space again
	if _, err := l.AddReceipt(k.receipt("alice", "bob", job.Nano, 1)); err != nil {
		t.Fatalf("AddReceipt once there is space: %v", err)
	}
	want = stateOf(l)
	l.Close()
	if got := stateOf(openLedger(t, dir)); got.String() != want.String() {
		t.Fatalf("reopened:\n%v\nwant\n%v", got, want)
	}
}

// TestVerify: Open trusts its own log; Verify re-checks the signatures and
// finds a record that a tampered node wrote without them being valid.
func TestVerify(t *testing.T) {
	k, dir := keys{}, t.TempDir()
	l := openLedger(t, dir)
	fill(t, k, l)
	rep, err := l.Verify()
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 0 || rep.Records != 8 || rep.Receipts != 5 || rep.Grants != 2 || strings.Join(rep.FraudulentPayers, ",") != "mallory" {
		t.Fatalf("Verify of a clean log: %+v", rep)
	}
	forged := k.receipt("alice", "bob", 50*job.Nano, 4)
	forged.Amount = 90 * job.Nano // the signatures no longer match
	if err := ledger.AppendRaw(l, 'R', job.Encode(forged)); err != nil {
		t.Fatal(err)
	}
	l.Close()
	trusting := openLedger(t, dir)
	if trusting.Balance("bob").Earned != 96*job.Nano { // 1+2+3, and the forged 90
		t.Fatalf("Open (trusting its log) gave bob %+v", trusting.Balance("bob"))
	}
	rep, err = trusting.Verify()
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) < 1 || !strings.Contains(rep.Problems[0].Err, "payer_sig") {
		t.Fatalf("Verify missed the forged record: %+v", rep)
	}
	trusting.Close()
	_, err = ledger.Open(dir, append(opts(), ledger.WithVerifyOnOpen(true))...)
	if err == nil || !strings.Contains(err.Error(), "payer_sig") || !strings.Contains(err.Error(), "offset") {
		t.Fatalf("Open with verification of a forged log: %v", err)
	}
}

// TestKill9 runs a child process that appends receipts and says "acked N"
// after each Add returns, kills it with SIGKILL in the middle of its
// appends, and checks that every acknowledged receipt is in the reopened
// ledger and the balance matches.
func TestKill9(t *testing.T) {
	if os.Getenv("LEDGER_KILL9_CHILD") != "" {
		kill9Child()
		return
	}
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	acked := 0
	killChild(t, "TestKill9", "LEDGER_KILL9_CHILD="+dir, func(line string) bool {
		if n, ok := strings.CutPrefix(line, "acked "); ok {
			acked, _ = strconv.Atoi(n)
		}
		return acked >= 50
	})
	if acked < 50 {
		t.Fatalf("the child acknowledged %d receipts before dying", acked)
	}
	l := openLedger(t, dir)
	got := l.Balance("bob")
	if got.Receipts < acked || got.Earned != job.Credits(got.Receipts)*job.Nano {
		t.Fatalf("after kill -9: bob %+v, but %d receipts were acknowledged", got, acked)
	}
	if a := l.Balance("alice"); a.Balance != 1000*job.Nano-got.Earned || a.Granted != 1000*job.Nano {
		t.Fatalf("alice %+v, bob %+v: credits not conserved", a, got)
	}
	t.Logf("%d receipts acknowledged before kill -9, %d in the reopened ledger", acked, got.Receipts)
}

// killChild runs the test named test in a child process with env added,
// reads its output lines until enough says so, and kills it with SIGKILL.
func killChild(t *testing.T, test, env string, enough func(line string) bool) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), env)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() && !enough(sc.Text()) {
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
}

// childLedger is a killed child's ledger in dir, alice granted 1,000
// credits; die ends the child on an error.
func childLedger(dir string) (*ledger.Ledger, keys) {
	l, err := ledger.Open(dir, opts()...)
	die(err)
	k := keys{}
	die(l.AddGrant(k.grant(testFaucet, "alice", 1000*job.Nano, "g1")))
	return l, k
}

func die(err error) {
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
}

func kill9Child() {
	l, k := childLedger(os.Getenv("LEDGER_KILL9_CHILD"))
	for seq := uint64(1); seq < 1000; seq++ {
		_, err := l.AddReceipt(k.receipt("alice", "bob", job.Nano, seq))
		die(err)
		fmt.Printf("acked %d\n", seq)
	}
	time.Sleep(time.Minute) // killed before
	os.Exit(0)
}

// TestLedgerConcurrent: writers and readers at once (run with -race); every
// acknowledged receipt is in the reopened ledger.
func TestLedgerConcurrent(t *testing.T) {
	k, dir := keys{}, t.TempDir()
	l := openLedger(t, dir)
	payers := []string{"w0", "w1", "w2", "w3"}
	rs := map[string][]*job.Receipt{}
	for _, p := range payers { // sign before the goroutines: keys is a plain map
		if err := l.AddGrant(k.grant(testFaucet, p, 20*job.Nano, p)); err != nil {
			t.Fatal(err)
		}
		for seq := uint64(1); seq <= 20; seq++ {
			rs[p] = append(rs[p], k.receipt(p, "bob", job.Nano, seq))
		}
	}
	var wg sync.WaitGroup
	for _, p := range payers {
		wg.Go(func() {
			for _, r := range rs[p] {
				if _, err := l.AddReceipt(r); err != nil {
					t.Error(err)
				}
				_ = l.Balance("bob")
				if _, err := l.Receipts(p, 3); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			_ = l.Stats()
			_ = l.NextSeq("w0")
		}
	})
	wg.Wait()
	if got := l.Balance("bob").Earned; got != 80*job.Nano {
		t.Fatalf("bob earned %v, want 80", got)
	}
	if rep, err := l.Verify(); err != nil || len(rep.Problems) != 0 || rep.Receipts != 80 {
		t.Fatalf("Verify: %+v, %v", rep, err)
	}
	l.Close()
	if got := openLedger(t, dir).Balance("bob").Earned; got != 80*job.Nano {
		t.Fatalf("reopened: bob earned %v, want 80", got)
	}
}

// TestPay: a payer's receipts take its next numbers, one after another,
// are kept before Pay returns (a restart finds them, and never hands their
// numbers out again), count once covered, and need only the payer's
// signature.
func TestPay(t *testing.T) {
	k, dir := keys{}, t.TempDir()
	l := openLedger(t, dir)
	if err := l.AddGrant(k.grant(testFaucet, "alice", 10*job.Nano, "g")); err != nil {
		t.Fatal(err)
	}
	sign := func(b []byte) ([]byte, error) { return ed25519.Sign(k.key("alice"), b), nil }
	for want := uint64(1); want <= 3; want++ {
		r, fraud, err := l.Pay(&job.Receipt{V: job.Version, Network: testNet, Job: testJob, Attempt: 1, Payer: "alice",
			Payee: "bob", Amount: job.Nano, TimeMS: 1_700_000_000_000}, sign)
		if err != nil || fraud != nil || r.Seq != want || len(r.PayeeSig) != 0 {
			t.Fatalf("Pay = %+v, %v, %v; want seq %d, signed by the payer alone", r, fraud, err, want)
		}
	}
	l.Close() // a crash right after: the receipts are in the log
	l = openLedger(t, dir)
	if got := l.Balance("bob"); got.Earned != 3*job.Nano || got.Pending != 0 {
		t.Fatalf("bob after a restart: %+v; want 3 earned", got)
	}
	if got := l.NextSeq("alice"); got != 4 {
		t.Fatalf("NextSeq after a restart = %d, want 4", got)
	}
	bad := func([]byte) ([]byte, error) { return ed25519.Sign(k.key("mallory"), []byte("x")), nil }
	if _, _, err := l.Pay(&job.Receipt{V: job.Version, Network: testNet, Job: testJob, Attempt: 1, Payer: "alice",
		Payee: "bob", Amount: job.Nano, TimeMS: 1_700_000_000_000}, bad); err == nil || !errors.Is(err, ledger.ErrRejected) {
		t.Fatalf("Pay with a bad signature: %v", err)
	}
	if got := l.NextSeq("alice"); got != 4 {
		t.Fatalf("a refused receipt took a number: NextSeq %d", got)
	}
	if rep, err := l.Verify(); err != nil || len(rep.Problems) != 0 || rep.Records != 5 {
		t.Fatalf("Verify: %+v, %v", rep, err)
	}
}
