package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// metricsRequest gets GET /metrics from addr with token ("" for none).
func metricsRequest(t *testing.T, addr, token string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(body)
}

// start --metrics-listen serves the node's metrics on a listener of its
// own, behind the token in metrics.token: 401 with a JSON error without
// it, the metrics with it, the API's /metrics unchanged.
func TestCLIMetricsListen(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	p := startProvider(t, home, randomNetwork(t), "metrics", "eu-west", "1", nil, "--metrics-listen", "127.0.0.1:0")
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(p.dataDir, name))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	addr, token := read("metrics.addr"), read("metrics.token")
	if !strings.HasPrefix(addr, "127.0.0.1:") || len(token) != 64 {
		t.Fatalf("metrics.addr %q, metrics.token %q", addr, token)
	}
	status, ctype, body := metricsRequest(t, addr, "")
	if status != http.StatusUnauthorized || ctype != "application/json" || !strings.Contains(body, `"code":"unauthorized"`) {
		t.Errorf("GET /metrics without a token: %d %s %s; want 401 with a JSON unauthorized error", status, ctype, body)
	}
	status, _, body = metricsRequest(t, addr, token)
	if status != http.StatusOK || !strings.Contains(body, "computemesh_provider_free_cpu_cores 2") || !strings.Contains(body, "computemesh_peers ") {
		t.Errorf("GET /metrics with the metrics token: %d\n%s", status, body)
	}
	status, _, body = metricsRequest(t, p.info.API, read("api.token"))
	if status != http.StatusOK || !strings.Contains(body, "computemesh_peers ") {
		t.Errorf("the API's GET /metrics: %d\n%s", status, body)
	}
	p.stop(t)
	if _, err := os.Stat(filepath.Join(p.dataDir, "metrics.addr")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("metrics.addr left behind after shutdown (stat: %v)", err)
	}
}

// start refuses a non-loopback --metrics-listen without --metrics-public,
// as a usage error naming the flag, and starts nothing.
func TestCLIMetricsListenRefusesPublic(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	r := meshnode(t, t.TempDir(), "start", "--data-dir", dataDir,
		"--listen", "/ip4/127.0.0.1/tcp/0,/ip4/127.0.0.1/udp/0/quic-v1", "--api", "127.0.0.1:0",
		"--network", randomNetwork(t), "--region", "eu-west", "--json", "--metrics-listen", "0.0.0.0:0")
	if r.code != 2 || !strings.Contains(r.stderr, "--metrics-public") || r.stdout != "" {
		t.Fatalf("want exit 2 naming --metrics-public, and no node info\n%s", r)
	}
	for _, f := range []string{"metrics.token", "metrics.addr", "api.token"} {
		if _, err := os.Stat(filepath.Join(dataDir, f)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s written although the node never started (stat: %v)", f, err)
		}
	}
}
