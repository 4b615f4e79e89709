package api

import (
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckMetricsAddr(t *testing.T) {
	for _, c := range []struct {
		addr     string
		public   bool
		loopback bool // refused as not loopback
		bad      bool // refused as no address
	}{
		{addr: "127.0.0.1:9464"}, {addr: "[::1]:0"}, {addr: "localhost:9464"},
		{addr: "0.0.0.0:9464", loopback: true}, {addr: ":9464", loopback: true}, {addr: "10.0.0.5:9464", loopback: true},
		{addr: "0.0.0.0:9464", public: true}, {addr: "[::]:9464", public: true}, {addr: ":9464", public: true},
		{addr: "127.0.0.1", bad: true}, {addr: "0.0.0.0", public: true, bad: true},
	} {
		err := CheckMetricsAddr(c.addr, c.public)
		if (err != nil) != (c.loopback || c.bad) || errors.Is(err, ErrMetricsNotLoopback) != c.loopback {
			t.Errorf("CheckMetricsAddr(%q, public %v) = %v", c.addr, c.public, err)
		}
	}
}

// The metrics listener: its token (made once, kept, 0600; a damaged one
// replaced), the scheme's case, and no files when the address is refused.
func TestMetricsServerToken(t *testing.T) {
	dir := t.TempDir()
	if _, err := ListenMetrics("0.0.0.0:0", dir, false, http.NotFoundHandler()); !errors.Is(err, ErrMetricsNotLoopback) {
		t.Fatalf("ListenMetrics on 0.0.0.0 without public: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("files written for a refused address: %v", entries)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "metrics\n") })
	s, err := ListenMetrics("127.0.0.1:0", dir, false, ok)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := os.ReadFile(filepath.Join(dir, MetricsTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(filepath.Join(dir, MetricsTokenFile)); st.Mode().Perm() != 0o600 {
		t.Errorf("%s: mode %v, want 0600", MetricsTokenFile, st.Mode().Perm())
	}
	token := strings.TrimSpace(string(tok))
	for auth, want := range map[string]int{
		"": 401, "Bearer": 401, "Bearer " + token + "x": 401, "Basic " + token: 401, token: 401,
		"Bearer " + token: 200, "bearer " + token: 200,
	} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+s.Addr()+"/metrics", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Authorization %q: %d, want %d", auth, resp.StatusCode, want)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = ListenMetrics("127.0.0.1:0", dir, false, ok)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(filepath.Join(dir, MetricsTokenFile)); string(again) != string(tok) {
		t.Errorf("the token changed across restarts: %q, then %q", tok, again)
	}
	s.Close()
	if err := os.WriteFile(filepath.Join(dir, MetricsTokenFile), []byte("short\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err = ListenMetrics("127.0.0.1:0", dir, false, ok)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fresh, _ := os.ReadFile(filepath.Join(dir, MetricsTokenFile))
	if st, _ := os.Stat(filepath.Join(dir, MetricsTokenFile)); len(strings.TrimSpace(string(fresh))) != 64 || st.Mode().Perm() != 0o600 {
		t.Errorf("a damaged token file: replaced by %q, mode %v; want 64 hex digits, 0600", fresh, st.Mode().Perm())
	}
}
