package api

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/computemesh/computemesh/internal/atomicfile"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/ledger"
)

// Files a node keeps in its data dir for the API.
const (
	TokenFile = "api.token"
	AddrFile  = "api.addr"
)

// MaxSubmitBody bounds a submit request: a module of 64 MiB, base64-encoded, plus the spec.
const MaxSubmitBody = 90 << 20

// SubmitRequest is the body of POST /v1/jobs.
type SubmitRequest struct {
	Spec        job.Spec          `json:"spec"`
	Module      []byte            `json:"module"`
	BidWindowMS int64             `json:"bid_window_ms,omitempty"`
	Secrets     map[string]string `json:"secrets,omitempty"`
	// DeadlineMS (unix ms): the job may wait for a provider until then.
	DeadlineMS int64 `json:"deadline_ms,omitempty"`
	// NotBeforeMS (unix ms): the job starts no earlier; with a deadline, a
	// job that weighs carbon may wait for a greener hour (issue #19).
	NotBeforeMS int64 `json:"not_before_ms,omitempty"`
	// MaxWaitMS is a soft bound on the job's queue wait (a batch's): bids
	// that would wait longer rank after those within it.
	MaxWaitMS int64 `json:"max_wait_ms,omitempty"`
	// Detach answers as soon as the job has its ID (an outcome of state
	// api.JobSubmitted carrying it) while the node goes on with the job.
	// Without it too, a job does not end when its request goes away (the
	// caller stopped following): it runs on, and cancel stops it.
	Detach bool `json:"detach,omitempty"`
}

// Line is one line of the NDJSON answer to a submit.
type Line struct {
	Event   *job.Event   `json:"event,omitempty"`
	Outcome *job.Outcome `json:"outcome,omitempty"`
	// Error ends a submission that failed: code bad_request when the
	// submission itself was refused (nothing was sent).
	Error *Error `json:"error,omitempty"`
}

// Backend is what the API serves.
type Backend interface {
	Info() Info
	Submit(ctx context.Context, r SubmitRequest, progress func(job.Event)) (*job.Outcome, error)
	// BadRequest reports whether a Submit error is about the submission.
	BadRequest(err error) bool
	// Providers searches the mesh for providers and reports on each.
	Providers(ctx context.Context, need job.Need) ([]ProviderInfo, error)
	// Challenge checks a provider's claimed benchmark score.
	Challenge(ctx context.Context, peer string) (ChallengeResult, error)
	// Cancel stops a job the node submitted.
	Cancel(id string) error
	// Drain makes a provider take no new jobs and stop once its running
	// jobs have finished.
	Drain()
	// Events hands a job's events so far, and with follow those to come
	// until it ends, to each.
	Events(ctx context.Context, id string, follow bool, each func(job.Event)) error
	// Jobs lists the jobs the node submitted that it keeps records of.
	Jobs() ([]JobSummary, error)
	// Job returns one job's record (an error wrapping ErrNotFound when the
	// node has none by that ID).
	Job(id string) (*JobRecord, error)
	// Reputations lists what the node has seen of each provider.
	Reputations() ([]Reputation, error)
	// Market returns the going rates in the bids heard over window.
	Market(window time.Duration) ([]Rate, error)
	// Credits returns the node's balance and its recent receipts.
	Credits(recent int) (Credits, error)
	// VerifyLedger re-checks every record of the node's ledger.
	VerifyLedger() (ledger.Report, error)
	// AddGrant adds a faucet-signed grant to the node's ledger and gossips it.
	AddGrant(ctx context.Context, g *job.Grant) error
	// GC collects the node's content store (with dryRun, only reports what
	// it would free).
	GC(dryRun bool) (*GCReport, error)
	// FetchContent brings published content (a file or tree by CID) into
	// the node's store from whichever peer holds it.
	FetchContent(ctx context.Context, cid string) (ContentStat, error)
	// Content returns what path names beneath cid in the node's store: a
	// directory's listing or a file (an error wrapping ErrNotFound when
	// the store lacks it or the path names nothing).
	Content(ctx context.Context, cid, path string) (*Content, error)
	// ProviderJobs lists the jobs the node runs and has queued as a
	// provider (none on a node that is not one).
	ProviderJobs() (ProviderJobs, error)
}

// ErrNotFound means the node has no such thing (a job, a peer it knows)
// or cannot tell which one a reference names.
var ErrNotFound = errors.New("not found")

// ChallengeRequest is the body of POST /v1/challenge.
type ChallengeRequest struct {
	Peer string `json:"peer"`
}

// Server is a running API server.
type Server struct {
	srv     *http.Server
	ln      net.Listener
	dataDir string
	token   string
	wg      sync.WaitGroup
	// sessions are the dashboard's browser sessions (nil without Pages).
	sessions *sessions
	// patterns are the routes the server serves (Patterns).
	patterns []string
}

// Patterns returns the routes the server serves, as "METHOD /path"
// patterns (Routes describes each).
func (s *Server) Patterns() []string { return append([]string(nil), s.patterns...) }

// Listen starts the API on addr, which must be a loopback address, and
// writes the token and the address into dataDir. metrics, if not nil,
// serves /metrics.
func Listen(addr, dataDir string, b Backend, metrics http.Handler, opts ...Option) (*Server, error) {
	if err := loopbackHost("api", addr, ErrNotLoopback); err != nil {
		return nil, err
	}
	tok := make([]byte, 32)
	if _, err := rand.Read(tok); err != nil {
		return nil, fmt.Errorf("api token: %w", err)
	}
	s := &Server{dataDir: dataDir, token: hex.EncodeToString(tok)}
	for _, o := range opts {
		o(s)
	}
	if err := writeFile(filepath.Join(dataDir, TokenFile), s.token+"\n"); err != nil {
		return nil, err
	}
	var err error
	if s.ln, err = net.Listen("tcp", addr); err != nil {
		return nil, fmt.Errorf("api: listening on %s: %w", addr, err)
	}
	if err := writeFile(filepath.Join(dataDir, AddrFile), s.ln.Addr().String()+"\n"); err != nil {
		s.ln.Close()
		return nil, err
	}
	mux := s.routes(b, metrics)
	s.routeDashboard(mux)
	s.patterns = mux.patterns
	s.srv = &http.Server{Handler: s.auth(mux), ReadHeaderTimeout: 10 * time.Second}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = s.srv.Serve(s.ln)
	}()
	return s, nil
}

// Addr returns the address the API listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server and removes the address file.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	s.wg.Wait()
	_ = os.Remove(filepath.Join(s.dataDir, AddrFile))
	return err
}

func (s *Server) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if subtle.ConstantTimeCompare([]byte(got), []byte(s.token)) != 1 {
			if s.sessions.serve(w, r, next) { // the dashboard's login, or a browser session
				return
			}
			writeError(w, CodeUnauthorized, "missing or wrong API token (see api.token in the node's data dir)")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) submit(w http.ResponseWriter, r *http.Request, b Backend) {
	var req SubmitRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxSubmitBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, CodeBadRequest, "decoding the submission: %v", err)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	flusher, _ := w.(http.Flusher)
	var mu sync.Mutex
	enc := json.NewEncoder(w)
	write := func(l Line) {
		mu.Lock()
		defer mu.Unlock()
		_ = enc.Encode(l)
		if flusher != nil {
			flusher.Flush()
		}
	}
	progress := func(e job.Event) { write(Line{Event: &e}) }
	if r.URL.Query().Get("events") == "false" { // the caller wants the outcome alone
		progress = func(job.Event) {}
	}
	out, err := b.Submit(r.Context(), req, progress)
	if err != nil {
		code := CodeUpstream
		if b.BadRequest(err) {
			code = CodeBadRequest
		}
		write(Line{Error: &Error{Code: code, Message: err.Error()}})
		return
	}
	write(Line{Outcome: out})
}

// decodeBody decodes a small JSON body, answering 400 when it cannot.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, CodeBadRequest, "decoding the request: %v", err)
		return false
	}
	return true
}

// reply writes f's result as JSON, or its error as 502 (the mesh failed).
func reply[T any](w http.ResponseWriter, f func() (T, error)) {
	v, err := f()
	if err != nil {
		errorOf(w, err, CodeUpstream)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// writeFile replaces path with content (mode 0600, atomically and
// durably), creating its directory if need be.
func writeFile(path, content string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("api: %w", err)
	}
	if err := atomicfile.WriteFile(path, []byte(content), 0o600); err != nil {
		return fmt.Errorf("api: %w", err)
	}
	return nil
}
