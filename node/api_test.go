package node

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

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/job"
)

func startAPINode(t *testing.T, dir string) *Node {
	t.Helper()
	n, err := New(context.Background(), Config{
		DataDir: dir, Mode: ModeProvider, Region: "eu-west", Rates: job.Rates{CPUHour: job.Nano},
		Network: "apitest", API: "127.0.0.1:0", Capacity: job.Resources{CPUMillis: 2000, MemoryBytes: 1 << 30},
		Hardware: testHardware(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func TestAPIRequiresTokenAndServesInfo(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	n := startAPINode(t, dir)
	addr, err := os.ReadFile(filepath.Join(dir, api.AddrFile))
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + strings.TrimSpace(string(addr))
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("API listens on %s, want loopback", base)
	}
	st, err := os.Stat(filepath.Join(dir, api.TokenFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v, mode %v; want 0600", err, st.Mode().Perm())
	}
	for _, tok := range []string{"", "Bearer wrong"} {
		req, _ := http.NewRequest(http.MethodGet, base+"/v1/info", nil)
		if tok != "" {
			req.Header.Set("Authorization", tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "api.token") {
			t.Fatalf("token %q: status %d body %q; want 401 naming api.token", tok, resp.StatusCode, body)
		}
	}
	c, err := api.Dial(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.PeerID != n.ID().String() || info.Mode != ModeProvider || info.Region != "eu-west" {
		t.Fatalf("info %+v", info)
	}
	metrics, _ := http.NewRequest(http.MethodGet, base+"/metrics", nil)
	metrics.Header.Set("Authorization", "Bearer "+readToken(t, dir))
	resp, err := http.DefaultClient.Do(metrics)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"computemesh_peers", "go_gc_heap_live_bytes", "process_resident_memory_bytes"} {
		if !strings.Contains(string(body), want) {
			t.Fatalf("/metrics lacks %s", want)
		}
	}
	// Closing removes the address: commands no longer find a node.
	n.Close()
	if _, err := api.Dial(dir); !errors.Is(err, api.ErrNoNode) {
		t.Fatalf("Dial after Close: %v, want ErrNoNode", err)
	}
}

func TestAPIRefusesNonLoopback(t *testing.T) {
	t.Parallel()
	_, err := New(context.Background(), Config{
		DataDir: t.TempDir(), Mode: ModeClient, Network: "apitest", API: "0.0.0.0:0",
	})
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("API on 0.0.0.0: %v, want an error about loopback", err)
	}
}

func TestIdentityIsReused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	n1 := startAPINode(t, dir)
	id := n1.ID()
	n1.Close()
	n2 := startAPINode(t, dir)
	if n2.ID() != id {
		t.Fatalf("second start has peer ID %s, first had %s", n2.ID(), id)
	}
}

func readToken(t *testing.T, dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, api.TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
