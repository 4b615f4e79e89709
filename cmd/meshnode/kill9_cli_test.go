package main

import (
	"encoding/json"
	"path/filepath"
	"syscall"
	"testing"
)

// A provider killed with SIGKILL right after a job's result has kept the
// job's receipt: restarted on its data dir, its credits and its ledger are
// intact and verify.
func TestCLIProviderKill9KeepsReceipt(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a mesh of processes")
	}
	t.Parallel()
	home := t.TempDir()
	network := randomNetwork(t)
	p := startProvider(t, home, network, "victim", "eu-west", "0.5", nil)
	hello := filepath.Join(helloDir(), "hello.yaml")
	r, out := meshSubmit(t, home, 1, "--bootstrap", p.info.addr(t, "tcp"), "--network", network, "--bid-window", bidWindow, hello)
	if r.code != 0 || out.Provider != p.info.PeerID {
		t.Fatalf("job: want exit 0 on the provider\n%s", r)
	}
	// The provider kept the receipt before returning it, so the client had
	// it when submit returned: kill the provider at once.
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
	again := startProvider(t, home, network, "victim-again", "eu-west", "0.5", nil, "--data-dir", p.dataDir)
	if again.info.PeerID != p.info.PeerID {
		t.Fatalf("restarted as %s, was %s", again.info.PeerID, p.info.PeerID)
	}
	r = meshnode(t, home, "credits", "--json", "--data-dir", p.dataDir)
	var cr struct {
		Earned   string `json:"earned"`
		Receipts []struct {
			Job    string `json:"job"`
			Payee  string `json:"payee"`
			Amount int64  `json:"amount"`
		} `json:"receipts"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &cr); r.code != 0 || err != nil {
		t.Fatalf("credits after kill -9: %v\n%s", err, r)
	}
	if len(cr.Receipts) != 1 || cr.Receipts[0].Job != out.Job || cr.Receipts[0].Payee != p.info.PeerID {
		t.Fatalf("receipts after kill -9: %+v; want the job's receipt", cr.Receipts)
	}
	if r := meshnode(t, home, "ledger", "verify", "--data-dir", p.dataDir); r.code != 0 {
		t.Fatalf("ledger verify after kill -9: want exit 0\n%s", r)
	}
}
