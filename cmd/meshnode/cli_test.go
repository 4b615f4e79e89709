//go:build unix

// Tests of the meshnode binary itself: TestMain builds it once, and the tests
// run it as a user would, as separate processes talking over 127.0.0.1 only
// (loopback listen addresses, --api 127.0.0.1:0, never mDNS), checking exit
// codes, --json output and messages.
//
// Waits are generous (tens of seconds) and only bound how long a broken
// binary may hang: nothing here depends on tight timing, so that the tests
// pass under -race on a small machine.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/computemesh/computemesh/hwprobe"
	"github.com/computemesh/computemesh/internal/idref"
	"github.com/computemesh/computemesh/job"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Bounds on how long a process may take; they only catch hangs.
const (
	cmdTimeout     = 90 * time.Second // any one meshnode command
	startTimeout   = 60 * time.Second // a provider prints its info line
	meshReadyLimit = 90 * time.Second // providers are all found and bid
	stopTimeout    = 30 * time.Second // a provider exits after SIGTERM
)

// meshnodeBin is the binary under test, built by TestMain.
var meshnodeBin string

// buildDir holds the binary and other build products of the test run.
var buildDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "meshnode-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "cli_test:", err)
		os.Exit(1)
	}
	buildDir = dir
	meshnodeBin = filepath.Join(dir, "meshnode")
	build := exec.Command("go", "build", "-o", meshnodeBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "cli_test: building meshnode:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// guestModule builds executor/testdata/guest (a WASM module whose argv[1]
// chooses what it does: "exit N", "loop", ...) once per test binary.
var guestModule = sync.OnceValues(func() (string, error) {
	out := filepath.Join(buildDir, "guest.wasm")
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, ".")
	cmd.Dir = filepath.Join("..", "..", "executor", "testdata", "guest")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the guest module: %v\n%s", err, b)
	}
	return out, nil
})

// testEnv is the environment of every meshnode process: the test's, without
// MESHNODE_* settings (which would override flags left unset), and with HOME
// set to home so that no default node of the user is ever found.
func testEnv(home string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "MESHNODE_") || strings.HasPrefix(kv, "HOME=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+home)
}

// syncBuffer is a bytes.Buffer safe for a process writing and a test reading.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// result is how one meshnode command ended.
type result struct {
	code           int
	stdout, stderr string
	elapsed        time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("exit %d after %v\nstdout: %s\nstderr: %s", r.code, r.elapsed.Round(time.Millisecond), r.stdout, r.stderr)
}

// meshnode runs the binary with args to its end (at most cmdTimeout).
func meshnode(t *testing.T, home string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, meshnodeBin, args...)
	cmd.Env = testEnv(home)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String(), elapsed: time.Since(start)}
	if ctx.Err() != nil {
		t.Fatalf("meshnode %s: still running after %v, killed\nstdout: %s\nstderr: %s",
			strings.Join(args, " "), cmdTimeout, r.stdout, r.stderr)
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		r.code = exitErr.ExitCode()
	default:
		t.Fatalf("meshnode %s: %v", strings.Join(args, " "), err)
	}
	if r.code < 0 {
		t.Fatalf("meshnode %s: killed by a signal: %v\n%s", strings.Join(args, " "), err, r)
	}
	return r
}

// submitJSON is the --json output of meshnode submit, decoded independently
// of the command's own type so that the wire names are tested too.
type submitJSON struct {
	Outputs    string  `json:"outputs"`
	Job        string  `json:"job"`
	State      string  `json:"state"`
	Provider   string  `json:"provider"`
	Region     string  `json:"region"`
	Price      float64 `json:"price"`
	Charge     float64 `json:"charge"`
	Bids       int     `json:"bids"`
	Declines   int     `json:"declines"`
	Candidates int     `json:"candidates"`
	Attempts   int     `json:"attempts"`
	Reason     string  `json:"reason"`
	ExitCode   int     `json:"exit_code"`
	Stdout     string  `json:"stdout"`
	Stderr     string  `json:"stderr"`
	Error      string  `json:"error"`
	Timings    struct {
		Discover float64 `json:"discover"`
		Auction  float64 `json:"auction"`
		Run      float64 `json:"run"`
		Total    float64 `json:"total"`
	} `json:"timings_ms"`
}

// submit runs meshnode submit --json with args and decodes its output, which
// must be exactly one JSON object on one line.
func submit(t *testing.T, home string, args ...string) (result, submitJSON) {
	t.Helper()
	r := meshnode(t, home, append([]string{"submit", "--json"}, args...)...)
	var out submitJSON
	if strings.Count(r.stdout, "\n") != 1 || !strings.HasSuffix(r.stdout, "\n") {
		t.Fatalf("submit --json: want one line of JSON on stdout\n%s", r)
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("submit --json: decoding stdout: %v\n%s", err, r)
	}
	return r, out
}

// meshSubmit is submit for an ephemeral client of a mesh of want
// providers: the client must have found every one of them as a candidate
// (through the DHT and the jobs topic), so that the assertions on who wins
// and on the counts of bids are about the auction.
func meshSubmit(t *testing.T, home string, want int, args ...string) (result, submitJSON) {
	t.Helper()
	r, out := submit(t, home, args...)
	if out.Candidates < want {
		t.Fatalf("the client found %d of %d providers as candidates\n%s", out.Candidates, want, r)
	}
	return r, out
}

// nodeInfo is the --json line of meshnode start.
type nodeInfo struct {
	PeerID  string   `json:"peer_id"`
	Addrs   []string `json:"addrs"`
	Mode    string   `json:"mode"`
	Network string   `json:"network"`
	Region  string   `json:"region"`
	Rates   struct {
		CPUHour int64 `json:"cpu_hour"`
	} `json:"rates"`
	API string `json:"api"`
}

// addr returns the node's first address over the given transport ("tcp" or
// "quic-v1").
func (in nodeInfo) addr(t *testing.T, transport string) string {
	t.Helper()
	for _, a := range in.Addrs {
		if strings.Contains(a, "/"+transport+"/") {
			return a
		}
	}
	t.Fatalf("node %s has no %s address: %v", in.PeerID, transport, in.Addrs)
	return ""
}

// providerProc is a running `meshnode start` process.
type providerProc struct {
	name, region, price string
	dataDir             string
	info                nodeInfo
	cmd                 *exec.Cmd
	stdout, stderr      *syncBuffer
	done                chan struct{} // closed when the process has exited
	waitErr             error         // set before done is closed
}

// startProvider starts a provider on loopback and waits for its info line.
// t.Cleanup stops it (SIGTERM, then SIGKILL if it hangs).
func startProvider(t *testing.T, home, network, name, region, price string, boot []string, extra ...string) *providerProc {
	t.Helper()
	p := &providerProc{
		name: name, region: region, price: price, dataDir: t.TempDir(),
		stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{}),
	}
	args := []string{"start", "--json",
		"--data-dir", p.dataDir,
		"--listen", "/ip4/127.0.0.1/tcp/0,/ip4/127.0.0.1/udp/0/quic-v1",
		"--api", "127.0.0.1:0",
		"--network", network,
		"--mode", "provider",
		"--region", region,
		"--price-cpu-hour", price,
		"--cpus", "2", "--memory", "1GiB",
	}
	if len(boot) > 0 {
		args = append(args, "--bootstrap", strings.Join(boot, ","))
	}
	args = append(args, extra...)
	p.cmd = exec.Command(meshnodeBin, args...)
	p.cmd.Env = testEnv(home)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	p.cmd.WaitDelay = 5 * time.Second
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting provider %s: %v", name, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("provider %s (%s, %s) stderr:\n%s", name, region, price, p.stderr.String())
		}
	})

	deadline := time.Now().Add(startTimeout)
	for {
		out := p.stdout.String()
		if line, _, ok := strings.Cut(out, "\n"); ok {
			if err := json.Unmarshal([]byte(line), &p.info); err != nil {
				t.Fatalf("provider %s: decoding its info line %q: %v", name, line, err)
			}
			break
		}
		select {
		case <-p.done:
			t.Fatalf("provider %s exited before printing its info: %v\nstdout: %s\nstderr: %s", name, p.waitErr, out, p.stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("provider %s printed no info line within %v\nstderr: %s", name, startTimeout, p.stderr.String())
		}
	}
	return p
}

// stop ends the process if it still runs: SIGTERM, then SIGKILL.
func (p *providerProc) stop(t *testing.T) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return
	case <-time.After(stopTimeout):
	}
	t.Errorf("provider %s still running %v after SIGTERM; killing it", p.name, stopTimeout)
	_ = p.cmd.Process.Kill()
	<-p.done
}

// randomNetwork is a network name no other test run shares.
func randomNetwork(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("test-cli-%x", b) // a test network: simulated GPUs allowed
}

// randomPeerID returns the peer ID of a fresh key: a peer nobody runs.
func randomPeerID(t *testing.T) peer.ID {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// freePort returns a loopback TCP port that nothing listens on (it was free
// a moment ago).
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

func helloDir() string { return filepath.Join("..", "..", "examples", "hello") }

// The providers of TestCLIMesh. The cheapest is outside the EU, so that a
// region constraint really changes the winner; the first is the bootstrap
// node of the others and of every client.
//
//	provider  region      credits/core-hour  wins
//	p0        us-east     0.5                cost, no constraint
//	p1        eu-west     0.9                never (dearest)
//	p2        eu-central  0.6                cost with region eu-*
var meshProviders = []struct {
	name, region, price string
	extra               []string
}{
	{"p0", "us-east", "0.5", nil},
	{"p1", "eu-west", "0.9", []string{"--simulate-gpu", "NVIDIA H100 80GB HBM3:80GiB:2", "--price-gpu-hour", "2"}},
	{"p2", "eu-central", "0.6", nil},
}

// bidWindow is long: an auction still closes as soon as every candidate has
// answered, so it costs nothing unless a provider is slow (when it keeps
// the test from depending on timing) or the client found no candidates.
const bidWindow = "10s"

// TestCLIMesh runs three provider processes and submits jobs to them with
// ephemeral clients and through a node's API.
func TestCLIMesh(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a mesh of processes")
	}
	t.Parallel()
	home := t.TempDir()
	network := randomNetwork(t)

	// Start the guest build now; it runs while the mesh forms.
	go guestModule()

	var provs []*providerProc
	var boot []string
	for _, p := range meshProviders {
		pp := startProvider(t, home, network, p.name, p.region, p.price, boot, p.extra...)
		if boot == nil {
			boot = []string{pp.info.addr(t, "tcp")}
		}
		provs = append(provs, pp)
	}
	p0, p1, p2 := provs[0], provs[1], provs[2]
	bootTCP, bootQUIC := p0.info.addr(t, "tcp"), p0.info.addr(t, "quic-v1")
	names := map[string]string{}
	for _, p := range provs {
		names[p.info.PeerID] = p.name + " (" + p.region + ")"
	}
	name := func(id string) string {
		if n, ok := names[id]; ok {
			return n
		}
		return fmt.Sprintf("%q", id)
	}
	hello := filepath.Join(helloDir(), "hello.yaml")
	helloWasm := filepath.Join(helloDir(), "hello.wasm")
	eph := func(args ...string) []string {
		return append([]string{"--bootstrap", bootTCP, "--network", network, "--bid-window", bidWindow}, args...)
	}

	t.Run("node info", func(t *testing.T) {
		for _, p := range provs {
			in := p.info
			if in.PeerID == "" || in.Mode != "provider" || in.Network != network || in.Region != p.region {
				t.Errorf("%s: info %+v, want a provider in region %s on network %s", p.name, in, p.region, network)
			}
			if rate, err := job.ParseCredits(p.price); err != nil || in.Rates.CPUHour != int64(rate) {
				t.Errorf("%s: rates.cpu_hour %d, want %s credits (%d nano)", p.name, in.Rates.CPUHour, p.price, rate)
			}
			if len(in.Addrs) < 2 {
				t.Errorf("%s: addrs %v, want a TCP and a QUIC address", p.name, in.Addrs)
			}
			for _, a := range in.Addrs {
				if !strings.HasPrefix(a, "/ip4/127.0.0.1/") || !strings.HasSuffix(a, "/p2p/"+in.PeerID) {
					t.Errorf("%s: address %s is not a loopback address ending in /p2p/%s", p.name, a, in.PeerID)
				}
			}
			if !strings.HasPrefix(in.API, "127.0.0.1:") {
				t.Errorf("%s: api %q, want 127.0.0.1:<port>", p.name, in.API)
			}
			addr, err := os.ReadFile(filepath.Join(p.dataDir, "api.addr"))
			if err != nil || strings.TrimSpace(string(addr)) != in.API {
				t.Errorf("%s: api.addr holds %q (%v), the info line says %q", p.name, addr, err, in.API)
			}
			// The API answers with its token and only with it.
			tok, err := os.ReadFile(filepath.Join(p.dataDir, "api.token"))
			if err != nil {
				t.Fatalf("%s: %v", p.name, err)
			}
			for _, withToken := range []bool{false, true} {
				req, _ := http.NewRequest(http.MethodGet, "http://"+in.API+"/v1/info", nil)
				if withToken {
					req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatalf("%s: GET /v1/info: %v", p.name, err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				switch {
				case !withToken && resp.StatusCode != http.StatusUnauthorized:
					t.Errorf("%s: GET /v1/info without a token: %s, want 401", p.name, resp.Status)
				case withToken && resp.StatusCode != http.StatusOK:
					t.Errorf("%s: GET /v1/info: %s %s", p.name, resp.Status, body)
				case withToken:
					var got nodeInfo
					if err := json.Unmarshal(body, &got); err != nil || got.PeerID != in.PeerID {
						t.Errorf("%s: GET /v1/info: peer %q (%v), want %s", p.name, got.PeerID, err, in.PeerID)
					}
				}
			}
		}
	})

	// Wait until every provider's capabilities are on the DHT: a client
	// then finds all three and all three bid.
	t.Run("mesh ready", func(t *testing.T) {
		deadline := time.Now().Add(meshReadyLimit)
		for try := 1; ; try++ {
			r, out := submit(t, home, eph(hello)...)
			if r.code == 0 && out.Candidates == 3 && out.Bids == 3 {
				t.Logf("mesh ready after %d submits", try)
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("after %v, a submit still does not get 3 bids from 3 candidates:\n%s", meshReadyLimit, r)
			}
			t.Logf("try %d: exit %d, %d candidates, %d bids; retrying", try, r.code, out.Candidates, out.Bids)
			time.Sleep(time.Second)
		}
	})
	if t.Failed() {
		return
	}

	t.Run("cheapest wins", func(t *testing.T) {
		r, out := meshSubmit(t, home, 3, eph(hello)...)
		if r.code != 0 {
			t.Fatalf("want exit 0\n%s", r)
		}
		if out.State != "completed" || out.ExitCode != 0 {
			t.Errorf("state %q, job exit %d; want completed, 0", out.State, out.ExitCode)
		}
		if out.Provider != p0.info.PeerID || out.Region != "us-east" {
			t.Errorf("winner %s in %q; want the cheapest, p0 (us-east)", name(out.Provider), out.Region)
		}
		if out.Bids != 3 || out.Declines != 0 || out.Candidates != 3 || out.Attempts != 1 {
			t.Errorf("bids %d, declines %d, candidates %d, attempts %d; want 3, 0, 3, 1", out.Bids, out.Declines, out.Candidates, out.Attempts)
		}
		if want := "hello from computemesh\nworld\nhello, computemesh\n"; out.Stdout != want {
			t.Errorf("job stdout %q, want %q", out.Stdout, want)
		}
		if out.Price <= 0 || out.Charge <= 0 || out.Charge > out.Price {
			t.Errorf("price %v, charge %v; want 0 < charge <= price", out.Price, out.Charge)
		}
		if !strings.HasPrefix(out.Job, "baga") || len(out.Job) < 40 || strings.ContainsAny(out.Job, " /") {
			t.Errorf("job %q is not a CID", out.Job)
		}
		if out.Timings.Total <= 0 || out.Timings.Run <= 0 || out.Timings.Total < out.Timings.Run {
			t.Errorf("timings %+v: want total >= run > 0", out.Timings)
		}
		if out.Reason == "" || out.Error != "" {
			t.Errorf("reason %q, error %q; want a reason and no error", out.Reason, out.Error)
		}
	})

	t.Run("inline module with args over QUIC", func(t *testing.T) {
		r, out := meshSubmit(t, home, 3, "--wasm", helloWasm, "--bootstrap", bootQUIC, "--network", network,
			"--bid-window", bidWindow, "--env", "HELLO_NAME=cli", "--", "a", "b")
		if r.code != 0 || out.State != "completed" {
			t.Fatalf("want exit 0, completed\n%s", r)
		}
		if want := "hello from computemesh\na b\nhello, cli\n"; out.Stdout != want {
			t.Errorf("job stdout %q, want %q", out.Stdout, want)
		}
		if out.Provider != p0.info.PeerID {
			t.Errorf("winner %s, want p0 (us-east)", name(out.Provider))
		}
	})

	// Without --json, stdout is the job's and stderr has the summary. (Through
	// p1's API: a long-lived node does not have the discovery race of a
	// fresh client, which text output would not show.)
	t.Run("text output", func(t *testing.T) {
		r := meshnode(t, home, "submit", hello, "--data-dir", p1.dataDir, "--bid-window", bidWindow)
		if r.code != 0 {
			t.Fatalf("want exit 0\n%s", r)
		}
		if want := "hello from computemesh\nworld\nhello, computemesh\n"; r.stdout != want {
			t.Errorf("stdout %q, want exactly the job's output %q", r.stdout, want)
		}
		// p1 does not bid on its own jobs: p0 is the cheapest of the others.
		if !strings.Contains(r.stderr, "completed on") || !strings.Contains(r.stderr, "(us-east)") {
			t.Errorf("stderr %q: want a completion line naming us-east", r.stderr)
		}
	})

	t.Run("region constraint changes the winner", func(t *testing.T) {
		r, out := meshSubmit(t, home, 3, eph(hello, "--region", "eu-*")...)
		if r.code != 0 || out.State != "completed" {
			t.Fatalf("want exit 0, completed\n%s", r)
		}
		if out.Provider != p2.info.PeerID || out.Region != "eu-central" {
			t.Errorf("winner %s in %q; want p2 (eu-central), the cheapest in eu-*", name(out.Provider), out.Region)
		}
		if out.Bids != 2 || out.Declines != 1 {
			t.Errorf("bids %d, declines %d; want 2 (eu-west, eu-central), 1 (us-east)", out.Bids, out.Declines)
		}
	})

	t.Run("no provider in region", func(t *testing.T) {
		r, out := meshSubmit(t, home, 3, eph(hello, "--region", "mars-*")...)
		if r.code != 3 {
			t.Fatalf("want exit 3 (unscheduled)\n%s", r)
		}
		if out.State != "unscheduled" || out.Provider != "" || out.Bids != 0 {
			t.Errorf("state %q, provider %q, bids %d; want unscheduled, none, 0", out.State, out.Provider, out.Bids)
		}
		for _, want := range []string{"no bids", "3 candidates", "mars-*"} {
			if !strings.Contains(out.Error, want) {
				t.Errorf("error %q does not mention %q", out.Error, want)
			}
		}
	})

	t.Run("max price below every bid", func(t *testing.T) {
		r, out := meshSubmit(t, home, 3, eph(hello, "--max-price", "0.000000001")...)
		if r.code != 3 {
			t.Fatalf("want exit 3 (unscheduled)\n%s", r)
		}
		if out.State != "unscheduled" || out.Provider != "" {
			t.Errorf("state %q, provider %q; want unscheduled, none", out.State, out.Provider)
		}
		for _, want := range []string{"no bids", "candidates", "max price"} {
			if !strings.Contains(out.Error, want) {
				t.Errorf("error %q does not mention %q", out.Error, want)
			}
		}
	})

	t.Run("job exits non-zero", func(t *testing.T) {
		guest, err := guestModule()
		if err != nil {
			t.Fatal(err)
		}
		r, out := meshSubmit(t, home, 3, eph("--wasm", guest, "--", "exit", "3")...)
		if r.code != 1 {
			t.Fatalf("want exit 1 (the job failed)\n%s", r)
		}
		if out.State != "failed" || out.ExitCode != 3 || out.Provider != p0.info.PeerID {
			t.Errorf("state %q, job exit %d, provider %s; want failed, 3, p0", out.State, out.ExitCode, name(out.Provider))
		}
		if !strings.Contains(out.Error, "exited with code 3") {
			t.Errorf("error %q does not say the job exited with code 3", out.Error)
		}
	})

	t.Run("job times out", func(t *testing.T) {
		guest, err := guestModule()
		if err != nil {
			t.Fatal(err)
		}
		r, out := meshSubmit(t, home, 3, eph("--wasm", guest, "--timeout", "2s", "--", "loop")...)
		if r.code != 1 {
			t.Fatalf("want exit 1 (the job failed)\n%s", r)
		}
		if out.State != "timeout" || out.Provider == "" {
			t.Errorf("state %q, provider %q; want timeout on some provider", out.State, out.Provider)
		}
		if !strings.Contains(out.Error, "timeout") {
			t.Errorf("error %q does not mention the timeout", out.Error)
		}
	})

	t.Run("through the node API", func(t *testing.T) {
		// p0 submits for the client; a provider does not bid on its own
		// jobs, so the cheapest other provider, p2, should win.
		r, out := submit(t, home, hello, "--data-dir", p0.dataDir, "--bid-window", bidWindow)
		if r.code != 0 || out.State != "completed" {
			t.Fatalf("want exit 0, completed\n%s", r)
		}
		if out.Provider != p1.info.PeerID && out.Provider != p2.info.PeerID {
			t.Errorf("winner %s; want p1 or p2 (p0 is the submitting node)", name(out.Provider))
		}
		if want := "hello from computemesh\nworld\nhello, computemesh\n"; out.Stdout != want {
			t.Errorf("job stdout %q, want %q", out.Stdout, want)
		}
		t.Logf("winner through p0's API: %s, %d bids from %d candidates", name(out.Provider), out.Bids, out.Candidates)
		// The module went into p0's store and the request named it by CID
		// (the node took it from there).
		mod, err := os.ReadFile(helloWasm)
		if err != nil {
			t.Fatal(err)
		}
		if held, err := os.ReadFile(filepath.Join(p0.dataDir, "blobs", job.ModuleCID(mod).String())); err != nil || !bytes.Equal(held, mod) {
			t.Errorf("p0's store after a submit through its API: %d bytes, %v; want the module", len(held), err)
		}

		// A bad spec through the API is still refused before anything is sent.
		r = meshnode(t, home, "submit", "--data-dir", p0.dataDir, "--wasm", helloWasm, "--timeout", "-1s")
		if r.code != 2 {
			t.Errorf("bad --timeout through the API: want exit 2\n%s", r)
		}
	})

	t.Run("inputs and outputs by CID", func(t *testing.T) {
		guest, err := guestModule()
		if err != nil {
			t.Fatal(err)
		}
		in := filepath.Join(t.TempDir(), "in.txt")
		if err := os.WriteFile(in, []byte("shout"), 0o644); err != nil {
			t.Fatal(err)
		}
		// Ephemeral client: a local path is added and sent to the winner only.
		outDir := t.TempDir()
		r, out := meshSubmit(t, home, 3, eph("--wasm", guest, "--input", "in.txt="+in, "-o", outDir, "--", "upper")...)
		if r.code != 0 || out.Outputs == "" {
			t.Fatalf("want exit 0 with outputs\n%s", r)
		}
		if b, err := os.ReadFile(filepath.Join(outDir, "upper.txt")); err != nil || string(b) != "SHOUT" {
			t.Fatalf("output upper.txt: %q, %v\n%s", b, err, r)
		}
		// Through a node: add, submit by CID, get the outputs by CID.
		add := meshnode(t, home, "add", in, "--data-dir", p0.dataDir)
		cid := strings.TrimSpace(add.stdout)
		if add.code != 0 || !strings.HasPrefix(cid, "bafk") {
			t.Fatalf("add: want exit 0 and a raw CID\n%s", add)
		}
		r, out = submit(t, home, "--wasm", guest, "--input", "in.txt="+cid, "--data-dir", p0.dataDir, "--bid-window", bidWindow, "--", "upper")
		if r.code != 0 || out.Outputs == "" {
			t.Fatalf("via the API: want exit 0 with outputs\n%s", r)
		}
		got := filepath.Join(t.TempDir(), "got")
		if g := meshnode(t, home, "get", out.Outputs, "-o", got, "--data-dir", p0.dataDir); g.code != 0 {
			t.Fatalf("get: want exit 0\n%s", g)
		}
		if b, err := os.ReadFile(filepath.Join(got, "upper.txt")); err != nil || string(b) != "SHOUT" {
			t.Fatalf("get upper.txt: %q, %v", b, err)
		}
		// Published outputs: a node that neither submitted nor ran the
		// job fetches them from the mesh for `get`.
		r, out = submit(t, home, "--wasm", guest, "--input", "in.txt="+cid, "--data-dir", p0.dataDir, "--bid-window", bidWindow, "--publish", "--", "upper")
		if r.code != 0 || out.Outputs == "" {
			t.Fatalf("--publish: want exit 0 with outputs\n%s", r)
		}
		third := p1
		if out.Provider == p1.info.PeerID {
			third = p2
		}
		pub := filepath.Join(t.TempDir(), "pub")
		if g := meshnode(t, home, "get", out.Outputs, "-o", pub, "--data-dir", third.dataDir); g.code != 0 || !strings.Contains(g.stderr, "from the mesh") {
			t.Fatalf("get of published outputs through a third node: want exit 0, fetched from the mesh\n%s", g)
		}
		if b, err := os.ReadFile(filepath.Join(pub, "upper.txt")); err != nil || string(b) != "SHOUT" {
			t.Fatalf("published upper.txt: %q, %v", b, err)
		}
		// An input that nobody has is refused before anything is sent.
		missing := meshnode(t, home, "submit", "--wasm", guest, "--input", "x=bafkreidfug74naidp5lpzfwwe6yzvhzzomtpfm6g6siu656f2squgk5aaa", "--bootstrap", bootTCP, "--network", network)
		if missing.code != 2 {
			t.Fatalf("missing input: want exit 2\n%s", missing)
		}
	})

	t.Run("providers by GPU model", func(t *testing.T) {
		for _, via := range [][]string{{"--bootstrap", bootTCP, "--network", network}, {"--data-dir", p0.dataDir}} {
			var found struct {
				Providers []struct {
					Peer   string `json:"peer"`
					Record struct {
						Region    string `json:"region"`
						Simulated bool   `json:"simulated"`
						GPUs      []struct {
							Model string `json:"model"`
						} `json:"gpus"`
					} `json:"record"`
				} `json:"providers"`
				Summary string `json:"summary"`
			}
			var r result
			for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(500 * time.Millisecond) {
				r = meshnode(t, home, append([]string{"providers", "--gpu-model", "h100", "--json"}, via...)...)
				if r.code != 0 {
					t.Fatalf("providers %v: want exit 0\n%s", via, r)
				}
				if err := json.Unmarshal([]byte(r.stdout), &found); err != nil {
					t.Fatalf("providers --json: %v\n%s", err, r)
				}
				if len(found.Providers) > 0 || time.Now().After(deadline) {
					break
				}
			}
			if len(found.Providers) != 1 || found.Providers[0].Peer != p1.info.PeerID ||
				!found.Providers[0].Record.Simulated || len(found.Providers[0].Record.GPUs) != 2 {
				t.Fatalf("providers --gpu-model h100 %v: want exactly p1 with 2 simulated GPUs\n%s", via, r)
			}
		}
		// A GPU job goes to p1, the only provider with an H100, though dearer.
		r, out := meshSubmit(t, home, 1, eph(hello, "--gpus", "1", "--gpu-model", "h100")...)
		if r.code != 0 || out.Provider != p1.info.PeerID {
			t.Fatalf("GPU job: want exit 0 on p1\n%s", r)
		}
	})

	t.Run("challenge an honest provider", func(t *testing.T) {
		r := meshnode(t, home, "challenge", p2.info.PeerID, "--data-dir", p0.dataDir)
		if r.code != 0 || !strings.Contains(r.stdout, "PASSED") {
			t.Fatalf("challenge: want exit 0 and PASSED\n%s", r)
		}
	})

	t.Run("IDs as the tables print them", func(t *testing.T) {
		// Every command that takes a job or peer ID takes the short form
		// the tables print (plain ASCII) and a unique prefix of the ID's
		// distinctive part, through a node's API and, for peers, through
		// an ephemeral client too.
		r, out := submit(t, home, hello, "--data-dir", p0.dataDir, "--bid-window", bidWindow)
		if r.code != 0 {
			t.Fatalf("submit: want exit 0\n%s", r)
		}
		short := idref.Short(out.Job)
		if strings.ContainsFunc(short, func(c rune) bool { return c > 127 }) {
			t.Fatalf("short form %q is not plain ASCII", short)
		}
		if r := meshnode(t, home, "job", "describe", short, "--data-dir", p0.dataDir); r.code != 0 || !strings.Contains(r.stdout, out.Job) {
			t.Errorf("job describe %s: want exit 0 and the whole ID\n%s", short, r)
		}
		if r := meshnode(t, home, "logs", short[:8], "--data-dir", p0.dataDir); r.code != 0 || !strings.Contains(r.stdout, "hello from computemesh") {
			t.Errorf("logs %s: want exit 0 and the job's output\n%s", short[:8], r)
		}
		if r := meshnode(t, home, "cancel", short, "--data-dir", p0.dataDir); r.code == 0 || !strings.Contains(r.stderr, "already ended") {
			t.Errorf("cancel %s of an ended job: want it found and refused as ended\n%s", short, r)
		}
		if r := meshnode(t, home, "logs", "zzzzzzzz", "--data-dir", p0.dataDir); r.code == 0 || !strings.Contains(r.stderr, "no job ID here matches") {
			t.Errorf("logs of no job: want an error naming the reference\n%s", r)
		}
		// Replicas of a wasm job need --deterministic (a flag now, not only
		// a spec field), and say so when it is missing.
		if r := meshnode(t, home, "submit", "--data-dir", p0.dataDir, "--wasm", helloWasm, "--replicas", "2"); r.code != exitUsage || !strings.Contains(r.stderr, "--deterministic") {
			t.Errorf("--replicas 2 without --deterministic: want exit %d naming the flag\n%s", exitUsage, r)
		}
		if r, out := submit(t, home, "--wasm", helloWasm, "--replicas", "2", "--deterministic", "--data-dir", p0.dataDir, "--bid-window", bidWindow); r.code != 0 || out.State != "completed" {
			t.Errorf("--replicas 2 --deterministic: want exit 0, completed\n%s", r)
		}
		peerShort := idref.Short(p2.info.PeerID)
		for _, via := range [][]string{{"--data-dir", p0.dataDir}, {"--bootstrap", bootTCP, "--network", network}} {
			r := meshnode(t, home, append([]string{"challenge", peerShort}, via...)...)
			if r.code != 0 || !strings.Contains(r.stdout, "PASSED") || !strings.Contains(r.stdout, peerShort) {
				t.Errorf("challenge %s %v: want exit 0, PASSED\n%s", peerShort, via, r)
			}
		}
		if r := meshnode(t, home, "challenge", "<peer ID>", "--data-dir", p0.dataDir); r.code != exitUsage || !strings.Contains(r.stderr, "placeholder") {
			t.Errorf("challenge <peer ID>: want exit %d saying it is a placeholder\n%s", exitUsage, r)
		}
		if r := meshnode(t, home, "challenge", "zzzzzzzz", "--data-dir", p0.dataDir); r.code != exitUsage || !strings.Contains(r.stderr, "no peer ID here matches") {
			t.Errorf("challenge of no known peer: want exit %d naming the reference\n%s", exitUsage, r)
		}
	})

	t.Run("an ephemeral client's job is on record", func(t *testing.T) {
		// submit --bootstrap leaves no node behind, but the job's record:
		// jobs and job describe (default data dir) find it.
		r, out := meshSubmit(t, home, 3, eph(hello)...)
		if r.code != 0 || out.Job == "" {
			t.Fatalf("ephemeral submit: want exit 0\n%s", r)
		}
		if r := meshnode(t, home, "job", "describe", idref.Short(out.Job)); r.code != 0 || !strings.Contains(r.stdout, out.Job) || !strings.Contains(r.stdout, "completed") {
			t.Errorf("job describe of an ephemeral client's job: want exit 0, its ID, completed\n%s", r)
		}
		if r := meshnode(t, home, "jobs"); r.code != 0 || !strings.Contains(r.stdout, idref.Short(out.Job)) {
			t.Errorf("jobs: want the ephemeral client's job listed\n%s", r)
		}
	})

	t.Run("failures say what to do", func(t *testing.T) {
		// The wrong --network: said within seconds, with the right one.
		r := meshnode(t, home, "submit", "--wasm", helloWasm, "--bootstrap", bootTCP, "--network", "not-"+network)
		if r.code != exitUsage || !strings.Contains(r.stderr, "--network "+network) {
			t.Errorf("wrong --network: want exit %d naming the right one\n%s", exitUsage, r)
		}
		// The right address with another node's peer ID.
		addr, _, _ := strings.Cut(bootTCP, "/p2p/")
		r = meshnode(t, home, "submit", "--wasm", helloWasm, "--bootstrap", addr+"/p2p/"+p2.info.PeerID, "--network", network)
		if r.code != exitNetwork || !strings.Contains(r.stderr, "another node listens there") {
			t.Errorf("a bootstrap address with another peer ID: want exit %d saying so\n%s", exitNetwork, r)
		}
		r = meshnode(t, home, "submit", "--wasm", helloWasm, "--bootstrap", "/ip4/127.0.0.1/tcp/1/p2p/"+p2.info.PeerID, "--network", network)
		if r.code != exitNetwork || !strings.Contains(r.stderr, "nothing listens there") {
			t.Errorf("a bootstrap address where nothing listens: want exit %d saying so\n%s", exitNetwork, r)
		}
	})

	t.Run("credits, ledger verify, reputation, market", func(t *testing.T) {
		// p0, the cheapest, ran jobs above: each left a receipt signed by
		// both sides in its ledger.
		r := meshnode(t, home, "credits", "--json", "--data-dir", p0.dataDir)
		var cr struct {
			Earned   string            `json:"earned"`
			Receipts []json.RawMessage `json:"receipts"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &cr); r.code != 0 || err != nil || len(cr.Receipts) == 0 || cr.Earned == "0" {
			t.Fatalf("credits --json: want exit 0, receipts and earnings (%v)\n%s", err, r)
		}
		if r := meshnode(t, home, "ledger", "verify", "--data-dir", p0.dataDir); r.code != 0 || !strings.Contains(r.stdout, "every record verifies") {
			t.Fatalf("ledger verify: want exit 0\n%s", r)
		}
		if r := meshnode(t, home, "reputation", "--json", "--data-dir", p0.dataDir); r.code != 0 || !strings.HasPrefix(r.stdout, "[") {
			t.Fatalf("reputation --json: want exit 0 and an array\n%s", r)
		}
		if r := meshnode(t, home, "market", "--data-dir", p0.dataDir); r.code != 0 {
			t.Fatalf("market: want exit 0\n%s", r)
		}
	})

	t.Run("clean shutdown", func(t *testing.T) {
		for _, p := range provs {
			if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatalf("%s: SIGTERM: %v", p.name, err)
			}
		}
		for _, p := range provs {
			select {
			case <-p.done:
			case <-time.After(stopTimeout):
				t.Errorf("%s still running %v after SIGTERM", p.name, stopTimeout)
				continue
			}
			if code := p.cmd.ProcessState.ExitCode(); code != 0 {
				t.Errorf("%s: exit %d after SIGTERM (%v), want 0\nstderr: %s", p.name, code, p.waitErr, p.stderr.String())
			}
			if !strings.Contains(p.stderr.String(), "shutting down") {
				t.Errorf("%s: stderr does not say it is shutting down:\n%s", p.name, p.stderr.String())
			}
			if _, err := os.Stat(filepath.Join(p.dataDir, "api.addr")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s: api.addr left behind after shutdown (stat: %v)", p.name, err)
			}
		}
	})
}

// TestCLIUsageErrors checks that bad usage exits 2 with a message naming
// the problem, and that nothing is sent: the --bootstrap peer given to each
// command is a listener that must see no connection.
func TestCLIUsageErrors(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	dir := t.TempDir()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var dialled atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			dialled.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	boot := fmt.Sprintf("/ip4/127.0.0.1/tcp/%d/p2p/%s", ln.Addr().(*net.TCPAddr).Port, randomPeerID(t))

	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	hello, err := os.ReadFile(filepath.Join(helloDir(), "hello.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	write("hello.wasm", string(hello)) // the module of good.yaml and bad.yaml
	badSpec := write("bad.yaml", "executor: wasm\nmodule: hello.wasm\ncolour: red\n")
	goodSpec := write("good.yaml", "executor: wasm\nmodule: hello.wasm\n")
	notWasm := write("notwasm.wasm", "this is text, not a module\n")
	badConfig := write("config.yaml", "no-such-flag: 1\n")

	cases := []struct {
		name string
		args []string
		want []string // in stderr
	}{
		{"unknown spec field", []string{"submit", badSpec, "--bootstrap", boot},
			[]string{"bad.yaml:3", "colour", "unknown field"}},
		{"not a WebAssembly module", []string{"submit", "--wasm", notWasm, "--bootstrap", boot},
			[]string{"notwasm.wasm", "not a WebAssembly module"}},
		{"missing module file", []string{"submit", "--wasm", filepath.Join(dir, "nope.wasm"), "--bootstrap", boot},
			[]string{"nope.wasm"}},
		{"no module at all", []string{"submit", "--bootstrap", boot, "--", "a"},
			[]string{"no module"}},
		{"no bootstrap and no data dir", []string{"submit", goodSpec},
			[]string{"no mesh to submit to", "--bootstrap", "--data-dir"}},
		{"negative timeout", []string{"submit", goodSpec, "--bootstrap", boot, "--timeout", "-1s"},
			[]string{"--timeout"}},
		{"negative bid window", []string{"submit", goodSpec, "--bootstrap", boot, "--bid-window", "-1s"},
			[]string{"--bid-window"}},
		{"bootstrap without peer ID", []string{"submit", goodSpec, "--bootstrap", "/ip4/127.0.0.1/tcp/1"},
			[]string{"--bootstrap", "/p2p/"}},
		{"two spec files", []string{"submit", goodSpec, goodSpec, "--bootstrap", boot},
			[]string{"one spec file"}},
		{"bad env", []string{"submit", goodSpec, "--bootstrap", boot, "--env", "NOEQUALS"},
			[]string{"--env", "KEY=VALUE"}},
		{"bad max price", []string{"submit", goodSpec, "--bootstrap", boot, "--max-price", "lots"},
			[]string{"--max-price"}},
		{"memory without a unit", []string{"submit", goodSpec, "--bootstrap", boot, "--memory", "64"},
			[]string{"--memory", `"64" has no unit, so it means 64 bytes`, "64MiB"}},
		{"memory without a unit in a spec", []string{"submit", write("mem.yaml", "executor: wasm\nmodule: hello.wasm\nresources:\n  memory: 64\n"), "--bootstrap", boot},
			[]string{"mem.yaml:4", "has no unit"}},
		{"unknown flag", []string{"submit", goodSpec, "--bootstrap", boot, "--no-such-flag"},
			[]string{"no-such-flag"}},
		{"unknown config setting", []string{"submit", goodSpec, "--bootstrap", boot, "--config", badConfig},
			[]string{"no-such-flag"}},
		{"bad start price", []string{"start", "--data-dir", t.TempDir(), "--listen", "/ip4/127.0.0.1/tcp/0",
			"--api", "127.0.0.1:0", "--price-cpu-hour", "abc"}, []string{"--price-cpu-hour"}},
		{"unknown command", []string{"frobnicate"}, []string{"frobnicate"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := meshnode(t, home, c.args...)
			if r.code != 2 {
				t.Fatalf("want exit 2 (usage)\n%s", r)
			}
			for _, w := range c.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr does not mention %q:\n%s", w, r.stderr)
				}
			}
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing", r.stdout)
			}
		})
	}
	if n := dialled.Load(); n != 0 {
		t.Errorf("the bootstrap peer was dialled %d times by commands that should send nothing", n)
	}
}

// TestCLIDeadBootstrap submits with a bootstrap address nobody listens on:
// exit 4 (network error), within a bound.
func TestCLIDeadBootstrap(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the client to give up joining")
	}
	t.Parallel()
	home := t.TempDir()
	boot := fmt.Sprintf("/ip4/127.0.0.1/tcp/%d/p2p/%s", freePort(t), randomPeerID(t))
	r := meshnode(t, home, "submit", "--json", filepath.Join(helloDir(), "hello.yaml"),
		"--bootstrap", boot, "--network", randomNetwork(t))
	if r.code != 4 {
		t.Fatalf("want exit 4 (network error)\n%s", r)
	}
	if r.stdout != "" {
		t.Errorf("stdout %q, want nothing: no job was submitted", r.stdout)
	}
	if !strings.Contains(r.stderr, "joining the mesh") && !strings.Contains(r.stderr, "bootstrap") {
		t.Errorf("stderr does not say joining the mesh failed:\n%s", r.stderr)
	}
	t.Logf("gave up after %v", r.elapsed.Round(time.Millisecond))
}

// TestCLINoRunningNode submits through a data dir where no node runs: exit 4.
func TestCLINoRunningNode(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	r := meshnode(t, t.TempDir(), "submit", "--json", filepath.Join(helloDir(), "hello.yaml"), "--data-dir", dataDir)
	if r.code != 4 {
		t.Fatalf("want exit 4\n%s", r)
	}
	if !strings.Contains(r.stderr, "no running node") || !strings.Contains(r.stderr, dataDir) {
		t.Errorf("stderr does not say no node runs with %s:\n%s", dataDir, r.stderr)
	}
}

// TestCLIStartRejectsPublicAPI: the API binds to loopback only, so a node
// asked for 0.0.0.0 refuses to start rather than run without it.
func TestCLIStartRejectsPublicAPI(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	r := meshnode(t, t.TempDir(), "start", "--data-dir", dataDir,
		"--listen", "/ip4/127.0.0.1/tcp/0,/ip4/127.0.0.1/udp/0/quic-v1",
		"--api", "0.0.0.0:0", "--network", randomNetwork(t), "--region", "eu-west", "--json")
	// Exit 2 (usage) would suit this best; 4 is what start gives any
	// failure to start a node. Either way it must fail, not keep running.
	if r.code != 2 && r.code != 4 {
		t.Fatalf("want exit 2 or 4\n%s", r)
	}
	if !strings.Contains(r.stderr, "loopback") {
		t.Errorf("stderr does not say the API is loopback-only:\n%s", r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("stdout %q, want no node info", r.stdout)
	}
	for _, f := range []string{"api.addr", "api.token"} {
		if _, err := os.Stat(filepath.Join(dataDir, f)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s written although the API never started (stat: %v)", f, err)
		}
	}
}

func TestCLIVersion(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	r := meshnode(t, home, "version")
	for _, want := range []string{"meshnode " + version + "\n", "commit", runtime.Version(), "wire     v1", "libp2p   v0."} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("meshnode version: want exit 0 and %q\n%s", want, r)
		}
	}
	r = meshnode(t, home, "version", "--json")
	var v versionInfo
	if err := json.Unmarshal([]byte(r.stdout), &v); r.code != 0 || err != nil || v.Version != version || v.Go != runtime.Version() || v.Wire != job.Version || !strings.HasPrefix(v.Libp2p, "v0.") {
		t.Errorf("meshnode version --json: %+v, %v\n%s", v, err, r)
	}
	r = meshnode(t, home, "--version")
	if r.code != 0 || !strings.Contains(r.stdout, version) {
		t.Errorf("meshnode --version: want exit 0 and %q in stdout\n%s", version, r)
	}
	r = meshnode(t, home, "version", "extra")
	if r.code != 2 {
		t.Errorf("meshnode version extra: want exit 2\n%s", r)
	}
}

func TestCLIProbe(t *testing.T) {
	dir := t.TempDir()
	r := meshnode(t, t.TempDir(), "probe", "--json", "--data-dir", dir)
	if r.code != 0 {
		t.Fatalf("probe --json: want exit 0\n%s", r)
	}
	var rep hwprobe.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("probe --json: %v\n%s", err, r)
	}
	if rep.CPU.Threads < 1 || rep.Memory.UsableBytes == 0 || rep.Benchmark == nil || rep.Benchmark.HashMBPerSecPerCore <= 0 ||
		!slices.Contains(rep.Executors, "wasm") {
		t.Fatalf("probe --json: implausible report\n%s", r)
	}
	// The benchmark is cached in the data dir for the next start.
	r = meshnode(t, t.TempDir(), "probe", "--json", "--data-dir", dir)
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || rep.Benchmark == nil || !rep.Benchmark.Cached {
		t.Fatalf("second probe: want the cached benchmark\n%s", r)
	}
	r = meshnode(t, t.TempDir(), "probe", "--data-dir", dir)
	for _, want := range []string{"CPU", "Memory", "GPUs", "Benchmark"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("probe table lacks %q\n%s", want, r)
		}
	}
}
