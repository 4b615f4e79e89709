package api

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/computemesh/computemesh/job"
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
}

// Line is one line of the NDJSON answer to a submit.
type Line struct {
	Event   *job.Event   `json:"event,omitempty"`
	Outcome *job.Outcome `json:"outcome,omitempty"`
	Error   string       `json:"error,omitempty"`
	// BadRequest marks an Error about the submission itself (nothing sent).
	BadRequest bool `json:"bad_request,omitempty"`
}

// Backend is what the API serves.
type Backend interface {
	Info() any
	Submit(ctx context.Context, r SubmitRequest, progress func(job.Event)) (*job.Outcome, error)
	// BadRequest reports whether a Submit error is about the submission.
	BadRequest(err error) bool
	// Providers searches the mesh for providers and reports on each.
	Providers(ctx context.Context, need job.Need) (any, error)
	// Challenge checks a provider's claimed benchmark score.
	Challenge(ctx context.Context, peer string) (any, error)
	// Cancel stops a job the node submitted.
	Cancel(id string) error
	// Drain makes a provider take no new jobs and stop once its running
	// jobs have finished.
	Drain()
	// Events hands a job's events so far, and with follow those to come
	// until it ends, to each.
	Events(ctx context.Context, id string, follow bool, each func(job.Event)) error
	// Jobs lists the jobs the node submitted that it keeps records of.
	Jobs() (any, error)
	// Job returns one job's record (an error wrapping ErrNotFound when the
	// node has none by that ID).
	Job(id string) (any, error)
	// Reputations lists what the node has seen of each provider.
	Reputations() (any, error)
	// Market returns the going rates in the bids heard over window.
	Market(window time.Duration) (any, error)
	// Credits returns the node's balance and its recent receipts.
	Credits(recent int) (any, error)
	// VerifyLedger re-checks every record of the node's ledger.
	VerifyLedger() (any, error)
	// AddGrant adds a faucet-signed grant to the node's ledger and gossips it.
	AddGrant(ctx context.Context, g *job.Grant) error
	// GC collects the node's content store (with dryRun, only reports what
	// it would free).
	GC(dryRun bool) (any, error)
}

// GCRequest is the body of POST /v1/gc.
type GCRequest struct {
	DryRun bool `json:"dry_run,omitempty"`
}

// ErrNotFound means the node has no such thing (a job record).
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
}

// Listen starts the API on addr, which must be a loopback address, and
// writes the token and the address into dataDir. metrics, if not nil,
// serves /metrics.
func Listen(addr, dataDir string, b Backend, metrics http.Handler) (*Server, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("api address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("api address %q: %w", addr, ErrNotLoopback)
	}
	tok := make([]byte, 32)
	if _, err := rand.Read(tok); err != nil {
		return nil, fmt.Errorf("api token: %w", err)
	}
	s := &Server{dataDir: dataDir, token: hex.EncodeToString(tok)}
	if err := writeFile(filepath.Join(dataDir, TokenFile), s.token+"\n"); err != nil {
		return nil, err
	}
	s.ln, err = net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("api: listening on %s: %w", addr, err)
	}
	if err := writeFile(filepath.Join(dataDir, AddrFile), s.ln.Addr().String()+"\n"); err != nil {
		s.ln.Close()
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/info", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(b.Info())
	})
	mux.HandleFunc("POST /v1/jobs", func(w http.ResponseWriter, r *http.Request) { s.submit(w, r, b) })
	mux.HandleFunc("GET /v1/market", func(w http.ResponseWriter, r *http.Request) {
		window := time.Hour
		if v := r.URL.Query().Get("window"); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 || d > 30*24*time.Hour {
				http.Error(w, fmt.Sprintf("window: %q is not a duration of up to 30 days", v), http.StatusBadRequest)
				return
			}
			window = d
		}
		reply(w, func() (any, error) { return b.Market(window) })
	})
	mux.HandleFunc("GET /v1/credits", func(w http.ResponseWriter, r *http.Request) {
		recent := 20
		if v := r.URL.Query().Get("recent"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 10_000 {
				http.Error(w, fmt.Sprintf("recent: %q is not a count of 0 to 10000", v), http.StatusBadRequest)
				return
			}
			recent = n
		}
		reply(w, func() (any, error) { return b.Credits(recent) })
	})
	mux.HandleFunc("POST /v1/grants", func(w http.ResponseWriter, r *http.Request) {
		var g job.Grant
		if !decodeBody(w, r, &g) {
			return
		}
		if err := b.AddGrant(r.Context(), &g); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /v1/ledger/verify", func(w http.ResponseWriter, r *http.Request) {
		reply(w, b.VerifyLedger)
	})
	mux.HandleFunc("GET /v1/reputation", func(w http.ResponseWriter, r *http.Request) {
		reply(w, b.Reputations)
	})
	mux.HandleFunc("GET /v1/jobs", func(w http.ResponseWriter, r *http.Request) {
		reply(w, b.Jobs)
	})
	mux.HandleFunc("GET /v1/jobs/{id}", func(w http.ResponseWriter, r *http.Request) {
		v, err := b.Job(r.PathValue("id"))
		if errors.Is(err, ErrNotFound) {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		reply(w, func() (any, error) { return v, err })
	})
	mux.HandleFunc("POST /v1/jobs/{id}/cancel", func(w http.ResponseWriter, r *http.Request) {
		if err := b.Cancel(r.PathValue("id")); err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /v1/jobs/{id}/events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		flusher, _ := w.(http.Flusher)
		enc := json.NewEncoder(w)
		wrote := false
		err := b.Events(r.Context(), r.PathValue("id"), r.URL.Query().Get("follow") == "1", func(e job.Event) {
			wrote = true
			_ = enc.Encode(Line{Event: &e})
			if flusher != nil {
				flusher.Flush()
			}
		})
		if err != nil && !wrote {
			http.Error(w, err.Error(), http.StatusNotFound)
		}
	})
	mux.HandleFunc("POST /v1/drain", func(w http.ResponseWriter, r *http.Request) {
		b.Drain()
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("POST /v1/providers", func(w http.ResponseWriter, r *http.Request) {
		var need job.Need
		if !decodeBody(w, r, &need) {
			return
		}
		reply(w, func() (any, error) { return b.Providers(r.Context(), need) })
	})
	mux.HandleFunc("POST /v1/challenge", func(w http.ResponseWriter, r *http.Request) {
		var req ChallengeRequest
		if !decodeBody(w, r, &req) {
			return
		}
		reply(w, func() (any, error) { return b.Challenge(r.Context(), req.Peer) })
	})
	mux.HandleFunc("POST /v1/gc", func(w http.ResponseWriter, r *http.Request) {
		var req GCRequest
		if !decodeBody(w, r, &req) {
			return
		}
		reply(w, func() (any, error) { return b.GC(req.DryRun) })
	})
	if metrics != nil {
		mux.Handle("GET /metrics", metrics)
	}
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
			http.Error(w, "missing or wrong API token (see api.token in the node's data dir)", http.StatusUnauthorized)
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
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(Line{Error: "decoding the submission: " + err.Error(), BadRequest: true})
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
	out, err := b.Submit(r.Context(), req, func(e job.Event) { write(Line{Event: &e}) })
	if err != nil {
		write(Line{Error: err.Error(), BadRequest: b.BadRequest(err)})
		return
	}
	write(Line{Outcome: out})
}

// decodeBody decodes a small JSON body, answering 400 when it cannot.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		http.Error(w, "decoding the request: "+err.Error(), http.StatusBadRequest)
		return false
	}
	return true
}

// reply writes f's result as JSON, or its error as 502 (the mesh failed).
func reply(w http.ResponseWriter, f func() (any, error)) {
	v, err := f()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func writeFile(path, content string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("api: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		return fmt.Errorf("api: writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("api: writing %s: %w", path, err)
	}
	return nil
}

// Client talks to a running node's API.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// ErrNotLoopback refuses an API address that is not a loopback address.
var ErrNotLoopback = errors.New("the API only binds to loopback (127.0.0.1, ::1)")

// ErrNoNode means no node is running with the data dir.
var ErrNoNode = errors.New("no running node")

// Dial finds the node running with dataDir from its address and token files.
func Dial(dataDir string) (*Client, error) {
	addr, err := os.ReadFile(filepath.Join(dataDir, AddrFile))
	if err != nil {
		return nil, fmt.Errorf("%w with data dir %s: %v (start one with: meshnode start --data-dir %s)", ErrNoNode, dataDir, err, dataDir)
	}
	tok, err := os.ReadFile(filepath.Join(dataDir, TokenFile))
	if err != nil {
		return nil, fmt.Errorf("reading the API token: %w", err)
	}
	return &Client{
		base:  "http://" + strings.TrimSpace(string(addr)),
		token: strings.TrimSpace(string(tok)),
		http:  &http.Client{},
	}, nil
}

func (c *Client) do(ctx context.Context, method, path string, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w at %s: %v", ErrNoNode, c.base, err)
	}
	if resp.StatusCode == http.StatusUnauthorized {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		resp.Body.Close()
		return nil, fmt.Errorf("api %s: %s", c.base, strings.TrimSpace(string(msg)))
	}
	return resp, nil
}

// Info returns the node's info, decoded into v.
func (c *Client) Info(ctx context.Context, v any) error {
	resp, err := c.do(ctx, http.MethodGet, "/v1/info", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v)
}

// expect returns the node's message as an error unless resp has status.
func expect(resp *http.Response, status int) error {
	if resp.StatusCode == status {
		return nil
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return fmt.Errorf("node: %s", strings.TrimSpace(string(msg)))
}

// call POSTs body to path and decodes the JSON answer into v.
func (c *Client) call(ctx context.Context, path string, body, v any) error {
	resp, err := c.do(ctx, http.MethodPost, path, job.Encode(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := expect(resp, http.StatusOK); err != nil {
		return err
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 32<<20)).Decode(v)
}

// get GETs path and decodes the JSON answer into v; a 404 is an error
// wrapping ErrNotFound.
func (c *Client) get(ctx context.Context, path string, v any) error {
	resp, err := c.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("%w: %s", ErrNotFound, strings.TrimSpace(string(msg)))
	}
	if err := expect(resp, http.StatusOK); err != nil {
		return err
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(v)
}

// Jobs lists the jobs the node submitted (node.JobSummary values), decoded
// into v.
func (c *Client) Jobs(ctx context.Context, v any) error {
	return c.get(ctx, "/v1/jobs", v)
}

// Job returns one job's record (a node.JobRecord) by ID, unique ID prefix
// or short form, decoded into v.
func (c *Client) Job(ctx context.Context, id string, v any) error {
	return c.get(ctx, "/v1/jobs/"+url.PathEscape(id), v)
}

// Market returns the going rates (node.Rate values) in the bids the node
// heard over window, decoded into v.
func (c *Client) Market(ctx context.Context, window time.Duration, v any) error {
	return c.get(ctx, "/v1/market?window="+url.QueryEscape(window.String()), v)
}

// Credits returns the node's balance and its recent receipts
// (node.Credits), decoded into v.
func (c *Client) Credits(ctx context.Context, recent int, v any) error {
	return c.get(ctx, "/v1/credits?recent="+strconv.Itoa(recent), v)
}

// AddGrant hands the node a faucet-signed grant to keep and gossip.
func (c *Client) AddGrant(ctx context.Context, g *job.Grant) error {
	resp, err := c.do(ctx, http.MethodPost, "/v1/grants", job.Encode(g))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return expect(resp, http.StatusNoContent)
}

// VerifyLedger has the node re-check its ledger (a ledger.Report), decoded
// into v.
func (c *Client) VerifyLedger(ctx context.Context, v any) error {
	return c.call(ctx, "/v1/ledger/verify", struct{}{}, v)
}

// Reputations lists the node's view of each provider (node.Reputation
// values), decoded into v.
func (c *Client) Reputations(ctx context.Context, v any) error {
	return c.get(ctx, "/v1/reputation", v)
}

// Providers asks the node to search for providers; the answer is decoded
// into v.
func (c *Client) Providers(ctx context.Context, need job.Need, v any) error {
	return c.call(ctx, "/v1/providers", need, v)
}

// Challenge asks the node to challenge a provider's claimed score; the
// answer is decoded into v.
func (c *Client) Challenge(ctx context.Context, peer string, v any) error {
	return c.call(ctx, "/v1/challenge", ChallengeRequest{Peer: peer}, v)
}

// GC asks the node to collect its content store (with dryRun, to report
// what it would free) and decodes its report (a store.Report) into v.
func (c *Client) GC(ctx context.Context, dryRun bool, v any) error {
	return c.call(ctx, "/v1/gc", GCRequest{DryRun: dryRun}, v)
}

// Drain asks the node to take no new jobs and stop once its running jobs
// have finished.
func (c *Client) Drain(ctx context.Context) error {
	resp, err := c.do(ctx, http.MethodPost, "/v1/drain", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return expect(resp, http.StatusAccepted)
}

// Cancel asks the node to cancel one of its jobs.
func (c *Client) Cancel(ctx context.Context, id string) error {
	resp, err := c.do(ctx, http.MethodPost, "/v1/jobs/"+url.PathEscape(id)+"/cancel", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return expect(resp, http.StatusNoContent)
}

// Events streams a job's events to each (until it ends, with follow).
func (c *Client) Events(ctx context.Context, id string, follow bool, each func(job.Event)) error {
	path := "/v1/jobs/" + url.PathEscape(id) + "/events"
	if follow {
		path += "?follow=1"
	}
	resp, err := c.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := expect(resp, http.StatusOK); err != nil {
		return err
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var l Line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return fmt.Errorf("api: decoding an event: %w", err)
		}
		if l.Event != nil {
			each(*l.Event)
		}
	}
	return sc.Err()
}

// BadRequestError is a submission the node refused before sending anything.
type BadRequestError struct{ Msg string }

func (e *BadRequestError) Error() string { return e.Msg }

// Submit submits a job through the node and streams its events to progress.
func (c *Client) Submit(ctx context.Context, r SubmitRequest, progress func(job.Event)) (*job.Outcome, error) {
	resp, err := c.do(ctx, http.MethodPost, "/v1/jobs", job.Encode(r))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 32<<20)
	for sc.Scan() {
		var l Line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return nil, fmt.Errorf("api: decoding a response line: %w", err)
		}
		switch {
		case l.Error != "" && l.BadRequest:
			return nil, &BadRequestError{Msg: l.Error}
		case l.Error != "":
			return nil, fmt.Errorf("node: %s", l.Error)
		case l.Outcome != nil:
			return l.Outcome, nil
		case l.Event != nil && progress != nil:
			progress(*l.Event)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("api: reading the response: %w", err)
	}
	return nil, fmt.Errorf("api: the node ended the response without an outcome")
}
