package main

import (
	"encoding/json"
	"strings"
	"syscall"
	"testing"
)

// A node on a test network with the test faucet takes a grant signed by
// it; its ledger verifies offline; the test faucet is refused on another
// network.
func TestCLIGrantAndCredits(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	t.Parallel()
	home := t.TempDir()
	p := startProvider(t, home, randomNetwork(t), "funded", "eu-west", "0.5", nil, "--test-faucet")
	if r := meshnode(t, home, "grant", "--test-faucet", "--amount", "5", "--data-dir", p.dataDir); r.code != 0 || !strings.Contains(r.stdout, "granted 5 credits") {
		t.Fatalf("grant: want exit 0\n%s", r)
	}
	r := meshnode(t, home, "credits", "--json", "--data-dir", p.dataDir)
	var cr struct {
		Balance string `json:"balance"`
		Granted string `json:"granted"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &cr); r.code != 0 || err != nil || cr.Granted != "5" || cr.Balance != "5" {
		t.Fatalf("credits after a grant of 5: %+v (%v)\n%s", cr, err, r)
	}
	if r := meshnode(t, home, "grant", "--amount", "5", "--data-dir", p.dataDir); r.code != 2 || !strings.Contains(r.stderr, "no faucet key") {
		t.Fatalf("grant without a key: want exit 2\n%s", r)
	}
	// Offline, with no node running and nothing told, the ledger names its
	// network and faucet: its grant verifies.
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-p.done
	if r := meshnode(t, home, "ledger", "verify", "--data-dir", p.dataDir); r.code != 0 || !strings.Contains(r.stdout, "1 grants") ||
		!strings.Contains(r.stdout, "every record verifies") {
		t.Fatalf("ledger verify offline on a faucet network: want exit 0, the grant verified\n%s", r)
	}
	r = meshnode(t, home, "start", "--data-dir", t.TempDir(), "--network", "mainnet", "--test-faucet", "--mode", "client",
		"--listen", "/ip4/127.0.0.1/tcp/0", "--api", "")
	if r.code != 2 || !strings.Contains(r.stderr, "refused on network") {
		t.Fatalf("start --test-faucet on mainnet: want exit 2 and why\n%s", r)
	}
}
