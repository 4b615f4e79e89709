package api

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Files a node with a metrics listener keeps in its data dir: the
// listener's bearer token (mode 0600, kept across restarts so that a
// scraper's configuration stays valid; delete it to get a new one) and the
// address it listens on (removed at Close).
const (
	MetricsTokenFile = "metrics.token"
	MetricsAddrFile  = "metrics.addr"
)

// ErrMetricsNotLoopback refuses a metrics address that is not a loopback
// address when the owner did not make the listener public.
var ErrMetricsNotLoopback = errors.New("the metrics listener binds to loopback (127.0.0.1, ::1) unless it is made public")

// MetricsServer serves GET /metrics alone, behind a bearer token of its
// own (not the API's: a scraper gets to read metrics, nothing else).
type MetricsServer struct {
	srv     *http.Server
	ln      net.Listener
	dataDir string
	token   string
	wg      sync.WaitGroup
}

// CheckMetricsAddr checks a metrics listener's address: host:port, and a
// loopback host unless public.
func CheckMetricsAddr(addr string, public bool) error {
	if public {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return fmt.Errorf("metrics address %q: %w", addr, err)
		}
		return nil
	}
	return loopbackHost("metrics", addr, ErrMetricsNotLoopback)
}

// ListenMetrics serves metrics at GET /metrics on addr (loopback unless
// public), behind the token in dataDir/MetricsTokenFile (made if it is
// missing), and writes the address it listens on into dataDir.
func ListenMetrics(addr, dataDir string, public bool, metrics http.Handler) (*MetricsServer, error) {
	if err := CheckMetricsAddr(addr, public); err != nil {
		return nil, err
	}
	tok, err := metricsToken(filepath.Join(dataDir, MetricsTokenFile))
	if err != nil {
		return nil, err
	}
	s := &MetricsServer{dataDir: dataDir, token: tok}
	if s.ln, err = net.Listen("tcp", addr); err != nil {
		return nil, fmt.Errorf("metrics: listening on %s: %w", addr, err)
	}
	if err := writeFile(filepath.Join(dataDir, MetricsAddrFile), s.ln.Addr().String()+"\n"); err != nil {
		s.ln.Close()
		return nil, fmt.Errorf("metrics: writing its address: %w", err)
	}
	s.srv = &http.Server{
		Handler:           s.serve(metrics),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = s.srv.Serve(s.ln)
	}()
	return s, nil
}

// metricsToken returns the token kept at path, or makes one and writes it
// there; the file is (re)written with mode 0600 either way.
func metricsToken(path string) (string, error) {
	tok := ""
	if b, err := os.ReadFile(path); err == nil {
		if t := strings.TrimSpace(string(b)); len(t) == 64 && isHex(t) {
			tok = t
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("metrics: reading its token: %w", err)
	}
	if tok == "" {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return "", fmt.Errorf("metrics: making its token: %w", err)
		}
		tok = hex.EncodeToString(b)
	}
	if err := writeFile(path, tok+"\n"); err != nil {
		return "", fmt.Errorf("metrics: writing its token: %w", err)
	}
	return tok, nil
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

// Addr returns the address the metrics listener listens on.
func (s *MetricsServer) Addr() string { return s.ln.Addr().String() }

// Close stops the listener (within 5 s for the scrapes in flight) and
// removes the address file; the token stays.
func (s *MetricsServer) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	s.wg.Wait()
	_ = os.Remove(filepath.Join(s.dataDir, MetricsAddrFile))
	if err != nil {
		return fmt.Errorf("metrics: stopping the listener: %w", err)
	}
	return nil
}

// serve answers GET /metrics with metrics for the token's holder, and
// everything else with the API's one error shape (Error).
func (s *MetricsServer) serve(metrics http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, got, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(s.token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="computemesh metrics"`)
			writeError(w, CodeUnauthorized, "missing or wrong metrics token (see %s in the node's data dir)", MetricsTokenFile)
			return
		}
		switch {
		case r.URL.Path != "/metrics":
			writeError(w, CodeNotFound, "this listener serves GET /metrics only")
		case r.Method != http.MethodGet && r.Method != http.MethodHead:
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, CodeNotAllowed, "this listener serves GET /metrics only")
		default:
			metrics.ServeHTTP(w, r)
		}
	})
}
