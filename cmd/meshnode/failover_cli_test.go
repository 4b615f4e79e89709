package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// running asks a provider's API how many jobs it runs.
func (p *providerProc) running(t *testing.T) int {
	t.Helper()
	tok, err := os.ReadFile(filepath.Join(p.dataDir, "api.token"))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+p.info.API+"/v1/info", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: GET /v1/info: %v", p.name, err)
	}
	defer resp.Body.Close()
	var in struct {
		Running int `json:"running"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&in); err != nil {
		t.Fatalf("%s: decoding /v1/info: %v", p.name, err)
	}
	return in.Running
}

// A provider frozen mid-job (SIGSTOP: its connections stay open, it just
// falls silent) is found out by the missing heartbeats, and the runner-up of
// the same auction runs the job to completion: same job, attempt 2.
func TestCLIFailoverSilentProvider(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a mesh of processes")
	}
	t.Parallel()
	home := t.TempDir()
	network := randomNetwork(t)
	guest, err := guestModule()
	if err != nil {
		t.Fatal(err)
	}
	cheap := startProvider(t, home, network, "cheap", "eu-west", "0.5", nil)
	boot := []string{cheap.info.addr(t, "tcp")}
	dear := startProvider(t, home, network, "dear", "eu-central", "0.9", boot)
	eph := func(args ...string) []string {
		return append([]string{"--bootstrap", boot[0], "--network", network, "--bid-window", bidWindow, "--wasm", guest}, args...)
	}
	// Warm up: both found, and the cheap one holds the module.
	if _, out := meshSubmit(t, home, 2, eph("--", "hello")...); out.State != "completed" || out.Provider != cheap.info.PeerID {
		t.Fatalf("warm-up: state %s on %s (%s)", out.State, out.Provider, out.Error)
	}

	type done struct {
		r   result
		out submitJSON
	}
	ch := make(chan done, 1)
	go func() {
		r, out := submit(t, home, eph("--", "sleep", "6s")...)
		ch <- done{r, out}
	}()
	deadline := time.Now().Add(cmdTimeout)
	for cheap.running(t) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the cheap provider never started the job")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cheap.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	frozen := time.Now()
	t.Cleanup(func() { _ = cheap.cmd.Process.Signal(syscall.SIGCONT) })
	d := <-ch
	t.Logf("frozen provider → result from the runner-up: %v (the job sleeps 6s)", time.Since(frozen).Round(time.Millisecond))
	if d.out.State != "completed" || d.out.Provider != dear.info.PeerID || d.out.Attempts != 2 {
		t.Fatalf("state %s on %s after %d attempts; want completed on the runner-up after 2\n%s", d.out.State, d.out.Provider, d.out.Attempts, d.r)
	}
	_ = cheap.cmd.Process.Signal(syscall.SIGCONT)
}
