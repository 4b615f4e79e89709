package ledger_test

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/ledger"
)

// FuzzOpenLog feeds arbitrary bytes after a valid header to Open (the log
// record decoder): it never panics; when it accepts the log, it kept a
// prefix of the bytes, a second Open agrees and Verify can read it all.
func FuzzOpenLog(f *testing.F) {
	k := keys{}
	header := ledger.EncodeRecord('H', []byte(`{"v":1,"network":"testnet"}`))
	r := ledger.EncodeRecord('R', job.Encode(k.receipt("alice", "bob", job.Nano, 1)))
	g := ledger.EncodeRecord('G', job.Encode(k.grant(testFaucet, "alice", job.Nano, "n")))
	f.Add(r)
	f.Add(append(bytes.Clone(g), r...))
	f.Add(append(bytes.Clone(r), r[:len(r)/2]...))
	f.Add(append(bytes.Clone(r), make([]byte, 40)...))
	f.Add(ledger.EncodeRecord('R', []byte(`{"v":1}`)))
	f.Add(ledger.EncodeRecord('X', []byte(`{}`)))
	f.Add(ledger.EncodeRecord('H', []byte(`{"v":1,"network":"testnet"}`)))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Add(ledger.EncodeRecord('S', []byte(`{"payer":"alice","seq":7}`)))
	f.Add(ledger.EncodeRecord('S', []byte(`{"payer":"alice","seq":0}`)))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, ledger.LogFile)
		full := append(bytes.Clone(header), data...)
		if err := os.WriteFile(path, full, 0o600); err != nil {
			t.Fatal(err)
		}
		quiet := ledger.WithLogger(slog.New(slog.DiscardHandler))
		l, err := ledger.Open(dir, append(opts(), quiet)...)
		if err != nil {
			return
		}
		want := stateOf(l)
		if _, err := l.Verify(); err != nil {
			t.Fatalf("Verify of an accepted log: %v", err)
		}
		l.Close()
		kept, _ := os.ReadFile(path)
		if !bytes.HasPrefix(full, kept) || len(kept) < len(header) {
			t.Fatalf("Open kept %d bytes that are not a prefix of the %d given", len(kept), len(full))
		}
		l2, err := ledger.Open(dir, append(opts(), quiet)...)
		if err != nil {
			t.Fatalf("second Open of an accepted log: %v", err)
		}
		defer l2.Close()
		if got := stateOf(l2); got.String() != want.String() {
			t.Fatalf("second Open\n%v\nfirst\n%v", got, want)
		}
	})
}
