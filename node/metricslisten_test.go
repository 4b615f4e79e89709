package node

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/job"
)

// metricsGet requests path from a metrics listener (or the API) at addr
// with token ("" for none) and returns the status, content type and body.
func metricsGet(t *testing.T, method, addr, path, token string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(body)
}

// readDataFile returns a file of the node's data dir, trimmed.
func readDataFile(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// wantMetricsError checks a JSON error of the metrics listener.
func wantMetricsError(t *testing.T, what string, status int, ctype, body string, wantStatus int, wantCode string) {
	t.Helper()
	var e struct{ Code, Message string }
	if err := json.Unmarshal([]byte(body), &e); status != wantStatus || ctype != "application/json" || err != nil || e.Code != wantCode || e.Message == "" {
		t.Errorf("%s: %d %s %q (%v); want %d application/json with code %q and a message", what, status, ctype, body, err, wantStatus, wantCode)
	}
}

// A node started with a metrics listener serves its metrics there to the
// holder of the metrics token alone (not the API's), answers everything
// else with a JSON error, keeps the API's own /metrics, stops the
// listener at Close and keeps its token for the next start.
func TestMetricsListener(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := Config{
		DataDir: dir, Mode: ModeProvider, Region: "eu-west", Rates: job.Rates{CPUHour: job.Nano},
		Network: "test-metrics-listen", API: "127.0.0.1:0", MetricsListen: "127.0.0.1:0",
		Capacity: job.Resources{CPUMillis: 2000, MemoryBytes: 1 << 30}, Hardware: testHardware(t),
	}
	n, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	addr := n.MetricsAddr()
	if !strings.HasPrefix(addr, "127.0.0.1:") || readDataFile(t, dir, api.MetricsAddrFile) != addr {
		t.Fatalf("metrics listener on %q, %s says %q", addr, api.MetricsAddrFile, readDataFile(t, dir, api.MetricsAddrFile))
	}
	st, err := os.Stat(filepath.Join(dir, api.MetricsTokenFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("metrics token file: %v, mode %v; want 0600", err, st.Mode().Perm())
	}
	token, apiToken := readDataFile(t, dir, api.MetricsTokenFile), readDataFile(t, dir, api.TokenFile)
	if len(token) != 64 || token == apiToken {
		t.Fatalf("metrics token %q: want 64 hex digits, not the API's", token)
	}

	for what, tok := range map[string]string{"no token": "", "a wrong token": "wrong", "the API's token": apiToken} {
		status, ctype, body := metricsGet(t, http.MethodGet, addr, "/metrics", tok)
		wantMetricsError(t, "GET /metrics with "+what, status, ctype, body, http.StatusUnauthorized, "unauthorized")
	}
	status, ctype, body := metricsGet(t, http.MethodGet, addr, "/metrics", token)
	if status != http.StatusOK || !strings.HasPrefix(ctype, "text/plain") {
		t.Fatalf("GET /metrics with the metrics token: %d %s\n%s", status, ctype, body)
	}
	for _, want := range []string{"computemesh_peers ", "computemesh_provider_free_cpu_cores 2", "computemesh_provider_jobs_running 0", "go_goroutines ", "process_resident_memory_bytes "} {
		if !strings.Contains(body, want) {
			t.Errorf("the metrics listener's /metrics lacks %q", want)
		}
	}
	status, ctype, body = metricsGet(t, http.MethodGet, addr, "/v1/info", token)
	wantMetricsError(t, "GET /v1/info", status, ctype, body, http.StatusNotFound, "not_found")
	status, ctype, body = metricsGet(t, http.MethodPost, addr, "/metrics", token)
	wantMetricsError(t, "POST /metrics", status, ctype, body, http.StatusMethodNotAllowed, "method_not_allowed")

	// The API's /metrics stays, behind the API's token.
	status, _, body = metricsGet(t, http.MethodGet, n.Info().API, "/metrics", apiToken)
	if status != http.StatusOK || !strings.Contains(body, "computemesh_peers ") {
		t.Fatalf("the API's /metrics: %d\n%s", status, body)
	}
	if status, _, _ = metricsGet(t, http.MethodGet, n.Info().API, "/metrics", token); status != http.StatusUnauthorized {
		t.Errorf("the API's /metrics with the metrics token: %d, want 401", status)
	}

	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get("http://" + addr + "/metrics"); err == nil {
		t.Errorf("the metrics listener still answers after Close")
	}
	if _, err := os.Stat(filepath.Join(dir, api.MetricsAddrFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s left behind after Close (stat: %v)", api.MetricsAddrFile, err)
	}
	again, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { again.Close() })
	if status, _, _ := metricsGet(t, http.MethodGet, again.MetricsAddr(), "/metrics", token); status != http.StatusOK {
		t.Errorf("after a restart, the same metrics token: %d, want 200 (the token is kept)", status)
	}
}

// The metrics listener binds to loopback unless made public, and needs a
// data dir for its token: a node refuses to start otherwise, and writes
// no token.
func TestMetricsListenerConfig(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		what          string
		listen        string
		public, nodir bool
		loopback      bool // the error is ErrMetricsNotLoopback
	}{
		{what: "any address", listen: "0.0.0.0:0", loopback: true},
		{what: "a LAN address", listen: "192.168.1.10:9464", loopback: true},
		{what: "a host name", listen: "example.org:9464", loopback: true},
		{what: "no port", listen: "127.0.0.1"},
		{what: "no data dir", listen: "127.0.0.1:0", nodir: true},
		{what: "public without an address", public: true},
	} {
		dir := t.TempDir()
		cfg := Config{DataDir: dir, Mode: ModeClient, Network: "test-metrics-listen", Ephemeral: true, MetricsListen: c.listen, MetricsPublic: c.public}
		if c.nodir {
			cfg.DataDir = ""
		}
		n, err := New(context.Background(), cfg)
		if err == nil {
			n.Close()
			t.Errorf("%s (%q, public %v): the node started", c.what, c.listen, c.public)
			continue
		}
		if !errors.Is(err, ErrConfig) || c.loopback != errors.Is(err, api.ErrMetricsNotLoopback) {
			t.Errorf("%s: %v; want ErrConfig (ErrMetricsNotLoopback: %v)", c.what, err, c.loopback)
		}
		if _, err := os.Stat(filepath.Join(dir, api.MetricsTokenFile)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: %s written although the listener never started (stat: %v)", c.what, api.MetricsTokenFile, err)
		}
	}
}
