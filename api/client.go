package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/ledger"
)

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

// ClientOption configures a Client.
type ClientOption func(*Client)

// WithHTTPClient makes the client send its requests with hc (its
// transport, timeouts) rather than a plain http.Client.
func WithHTTPClient(hc *http.Client) ClientOption { return func(c *Client) { c.http = hc } }

// New returns a client of the node whose API listens on addr
// (127.0.0.1:PORT), with its token (<data-dir>/api.token).
func New(addr, token string, opts ...ClientOption) *Client {
	c := &Client{base: "http://" + addr, token: token, http: &http.Client{}}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Dial finds the node running with dataDir from its address and token files.
func Dial(dataDir string, opts ...ClientOption) (*Client, error) {
	addr, err := os.ReadFile(filepath.Join(dataDir, AddrFile))
	if err != nil {
		return nil, fmt.Errorf("%w with data dir %s: %v (start one with: meshnode start --data-dir %s)", ErrNoNode, dataDir, err, dataDir)
	}
	tok, err := os.ReadFile(filepath.Join(dataDir, TokenFile))
	if err != nil {
		return nil, fmt.Errorf("reading the API token: %w", err)
	}
	return New(strings.TrimSpace(string(addr)), strings.TrimSpace(string(tok)), opts...), nil
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
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		defer resp.Body.Close()
		return nil, fmt.Errorf("api %s: %w", c.base, readError(resp))
	}
	return resp, nil
}

// Info returns the node's info.
func (c *Client) Info(ctx context.Context) (Info, error) {
	var info Info
	resp, err := c.do(ctx, http.MethodGet, "/v1/info", nil)
	if err != nil {
		return info, err
	}
	defer resp.Body.Close()
	err = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&info)
	return info, err
}

// expect returns the node's error (an *Error) unless resp has status.
func expect(resp *http.Response, status int) error {
	if resp.StatusCode == status {
		return nil
	}
	return readError(resp)
}

// call POSTs body to path and decodes the JSON answer as a T.
func call[T any](ctx context.Context, c *Client, path string, body any) (T, error) {
	var v T
	resp, err := c.do(ctx, http.MethodPost, path, job.Encode(body))
	if err != nil {
		return v, err
	}
	defer resp.Body.Close()
	if err := expect(resp, http.StatusOK); err != nil {
		return v, err
	}
	err = json.NewDecoder(io.LimitReader(resp.Body, 32<<20)).Decode(&v)
	return v, err
}

// get GETs path and decodes the JSON answer as a T; a 404 is an error
// wrapping ErrNotFound.
func get[T any](ctx context.Context, c *Client, path string) (T, error) {
	var v T
	resp, err := c.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return v, err
	}
	defer resp.Body.Close()
	if err := expect(resp, http.StatusOK); err != nil {
		return v, err
	}
	err = json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&v)
	return v, err
}

// Jobs lists the jobs the node submitted, newest first.
func (c *Client) Jobs(ctx context.Context) ([]JobSummary, error) {
	return get[[]JobSummary](ctx, c, "/v1/jobs")
}

// Job returns one job's record by ID, unique ID prefix or short form.
func (c *Client) Job(ctx context.Context, id string) (*JobRecord, error) {
	return get[*JobRecord](ctx, c, "/v1/jobs/"+url.PathEscape(id))
}

// Market returns the going rates in the bids the node heard over window.
func (c *Client) Market(ctx context.Context, window time.Duration) ([]Rate, error) {
	return get[[]Rate](ctx, c, "/v1/market?window="+url.QueryEscape(window.String()))
}

// Credits returns the node's balance and its recent receipts.
func (c *Client) Credits(ctx context.Context, recent int) (Credits, error) {
	return get[Credits](ctx, c, "/v1/credits?recent="+strconv.Itoa(recent))
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

// VerifyLedger has the node re-check its ledger.
func (c *Client) VerifyLedger(ctx context.Context) (ledger.Report, error) {
	return call[ledger.Report](ctx, c, "/v1/ledger/verify", struct{}{})
}

// Reputations lists the node's view of each provider, best first.
func (c *Client) Reputations(ctx context.Context) ([]Reputation, error) {
	return get[[]Reputation](ctx, c, "/v1/reputation")
}

// Providers asks the node to search for providers and report on each.
func (c *Client) Providers(ctx context.Context, need job.Need) ([]ProviderInfo, error) {
	return call[[]ProviderInfo](ctx, c, "/v1/providers", need)
}

// Challenge asks the node to challenge a provider's claimed score.
func (c *Client) Challenge(ctx context.Context, peer string) (ChallengeResult, error) {
	return call[ChallengeResult](ctx, c, "/v1/challenge", ChallengeRequest{Peer: peer})
}

// GC asks the node to collect its content store (with dryRun, to report
// what it would free).
func (c *Client) GC(ctx context.Context, dryRun bool) (*GCReport, error) {
	return call[*GCReport](ctx, c, "/v1/gc", GCRequest{DryRun: dryRun})
}

// FetchContent asks the node to bring published content into its store.
func (c *Client) FetchContent(ctx context.Context, cid string) (ContentStat, error) {
	return call[ContentStat](ctx, c, "/v1/content/fetch", ContentRequest{CID: cid})
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

// Submit submits a job through the node and streams its events to progress
// (nil: the node sends the outcome alone).
func (c *Client) Submit(ctx context.Context, r SubmitRequest, progress func(job.Event)) (*job.Outcome, error) {
	path := "/v1/jobs"
	if progress == nil {
		path += "?events=false" // the outcome alone: no event lines to write and read
	}
	resp, err := c.do(ctx, http.MethodPost, path, job.Encode(r))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if err := expect(resp, http.StatusOK); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 32<<20)
	for sc.Scan() {
		var l Line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return nil, fmt.Errorf("api: decoding a response line: %w", err)
		}
		switch {
		case l.Error != nil:
			return nil, l.Error
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

// OpenAPI returns the node's OpenAPI document (GET /v1/openapi.json).
func (c *Client) OpenAPI(ctx context.Context) ([]byte, error) {
	resp, err := c.do(ctx, http.MethodGet, "/v1/openapi.json", nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if err := expect(resp, http.StatusOK); err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(resp.Body, 4<<20))
}

// Logs writes a job's output — the text of its log events — to w as it
// comes, and with follow until the job ends.
func (c *Client) Logs(ctx context.Context, id string, follow bool, w io.Writer) error {
	var werr error
	err := c.Events(ctx, id, follow, func(e job.Event) {
		if e.Kind == job.EventLog && werr == nil {
			_, werr = io.WriteString(w, e.Message)
		}
	})
	if err != nil {
		return err
	}
	return werr
}
