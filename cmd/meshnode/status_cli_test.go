package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/mesh"
	"github.com/computemesh/computemesh/node"
	"github.com/libp2p/go-libp2p/core/peer"
)

// status answers for a running node, reports health by exit code, and
// counts the providers it finds per region (the others: a provider does
// not find itself through the DHT).
func TestCLIStatus(t *testing.T) {
	home := t.TempDir()
	network := randomNetwork(t)
	a := startProvider(t, home, network, "a", "eu-west", "1", nil)
	b := startProvider(t, home, network, "b", "us-east", "2", []string{a.info.addr(t, "tcp")})

	r := meshnode(t, home, "status", "--data-dir", a.dataDir, "--min-peers", "5")
	if r.code != exitNetwork || !strings.Contains(r.stderr, "unhealthy") || !strings.Contains(r.stdout, "UNHEALTHY") {
		t.Fatalf("status with too few peers: want exit %d and UNHEALTHY\n%s", exitNetwork, r)
	}
	var st statusReport
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		r = meshnode(t, home, "status", "--data-dir", b.dataDir, "--json", "--min-peers", "1", "--min-providers", "1")
		if r.code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status never found the other provider:\n%s", r)
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, r)
	}
	if !st.Healthy || st.Node.PeerID != b.info.PeerID || st.Regions["eu-west"] != 1 || len(st.Regions) != 1 {
		t.Fatalf("status: healthy=%v peer=%s regions=%v", st.Healthy, st.Node.PeerID, st.Regions)
	}
	if st.Node.HolePunch.Active {
		t.Errorf("hole punching active on loopback addresses: %+v", st.Node.HolePunch)
	}

	// The text form gives the addresses another node's --bootstrap takes.
	r = meshnode(t, home, "status", "--data-dir", a.dataDir)
	if r.code != 0 || !strings.Contains(r.stdout, "addresses") || !strings.Contains(r.stdout, "/p2p/"+a.info.PeerID) || strings.Contains(r.stdout, "draining") {
		t.Fatalf("status: want exit 0, the node's addresses with its peer ID, not draining\n%s", r)
	}
	if r := meshnode(t, home, "status", "--data-dir", t.TempDir()); r.code != exitNetwork {
		t.Fatalf("status of no node: want exit %d\n%s", exitNetwork, r)
	}
}

// identity test prints the peer ID that start --test-identity gives, and
// start refuses a test identity outside test networks.
func TestCLITestIdentity(t *testing.T) {
	home := t.TempDir()
	r := meshnode(t, home, "identity", "test", "boot1")
	want, err := peer.IDFromPrivateKey(mesh.TestKey("boot1"))
	if err != nil {
		t.Fatal(err)
	}
	if r.code != 0 || strings.TrimSpace(r.stdout) != want.String() {
		t.Fatalf("identity test boot1: want %s\n%s", want, r)
	}
	r = meshnode(t, home, "start", "--network", "prod", "--test-identity", "boot1", "--data-dir", t.TempDir(),
		"--listen", "/ip4/127.0.0.1/tcp/0", "--api", "")
	if r.code != exitUsage || !strings.Contains(r.stderr, "test identity") {
		t.Fatalf("start --test-identity on network prod: want a usage error naming it\n%s", r)
	}
}

// submit --repeat is checked before anything is sent (its use through a
// node's API is exercised by the testnet's smoke scenario).
func TestCLISubmitRepeatFlags(t *testing.T) {
	home := t.TempDir()
	wasm := filepath.Join(helloDir(), "hello.wasm")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--repeat", "0", "--data-dir", t.TempDir()}, "--repeat"},
		{[]string{"--repeat", "2", "--parallel", "0", "--data-dir", t.TempDir()}, "--parallel"},
		{[]string{"--repeat", "2", "--bootstrap", "/ip4/127.0.0.1/tcp/1/p2p/" + randomPeerID(t).String()}, "--data-dir"},
	} {
		r := meshnode(t, home, append([]string{"submit", "--wasm", wasm}, tc.args...)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("submit %v: want a usage error naming %s\n%s", tc.args, tc.want, r)
		}
	}
}

// status says when a provider drains (one with nothing running stops at
// once, so the text is checked on a report).
func TestStatusShowsDraining(t *testing.T) {
	var b strings.Builder
	r := statusReport{Node: api.Info{PeerID: "12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo", Mode: node.ModeProvider,
		Addrs: []string{"/ip4/127.0.0.1/tcp/4001"}, Draining: true, Running: 1}, Healthy: true}
	printStatus(&b, &r)
	for _, want := range []string{"draining", "taking no new jobs", "/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, b.String())
		}
	}
}

// meshnode sim runs from a clean clone: away from the shared data set it
// takes the RTT table built in, and says so.
func TestCLISimWithoutSharedData(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cmd := exec.Command(meshnodeBin, "sim", "--jobs", "200", "--providers", "12", "--clients", "3", "--loads", "0.5")
	cmd.Dir, cmd.Env = dir, testEnv(t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "embedded RTT table") || !strings.Contains(string(out), "computemesh") {
		t.Fatalf("sim in %s: %v\n%s", dir, err, out)
	}
	cmd = exec.Command(meshnodeBin, "sim", "--data", filepath.Join(dir, "nothing-here"))
	cmd.Dir, cmd.Env = dir, testEnv(t.TempDir())
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "--data") {
		t.Fatalf("sim --data of a missing folder: want an error naming --data\n%s", out)
	}
}
