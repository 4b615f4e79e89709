package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/internal/openapitest"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/ledger"
)

// fakeBackend answers every typed route with the values it holds.
type fakeBackend struct {
	info       api.Info
	providers  []api.ProviderInfo
	challenge  api.ChallengeResult
	jobs       []api.JobSummary
	record     *api.JobRecord
	reps       []api.Reputation
	rates      []api.Rate
	credits    api.Credits
	verify     ledger.Report
	gc         *api.GCReport
	provJobs   api.ProviderJobs
	lastWindow time.Duration
	lastRecent int
}

func (b *fakeBackend) Info() api.Info { return b.info }
func (b *fakeBackend) Submit(context.Context, api.SubmitRequest, func(job.Event)) (*job.Outcome, error) {
	return nil, errors.New("not in this test")
}
func (b *fakeBackend) BadRequest(error) bool { return false }
func (b *fakeBackend) Providers(context.Context, job.Need) ([]api.ProviderInfo, error) {
	return b.providers, nil
}
func (b *fakeBackend) Challenge(context.Context, string) (api.ChallengeResult, error) {
	return b.challenge, nil
}
func (b *fakeBackend) Cancel(string) error { return nil }
func (b *fakeBackend) Drain()              {}
func (b *fakeBackend) Events(context.Context, string, bool, func(job.Event)) error {
	return nil
}
func (b *fakeBackend) Jobs() ([]api.JobSummary, error) { return b.jobs, nil }
func (b *fakeBackend) Job(id string) (*api.JobRecord, error) {
	if id != b.record.ID {
		return nil, api.ErrNotFound
	}
	return b.record, nil
}
func (b *fakeBackend) Reputations() ([]api.Reputation, error) { return b.reps, nil }
func (b *fakeBackend) Market(window time.Duration) ([]api.Rate, error) {
	b.lastWindow = window
	return b.rates, nil
}
func (b *fakeBackend) Credits(recent int) (api.Credits, error) {
	b.lastRecent = recent
	return b.credits, nil
}
func (b *fakeBackend) VerifyLedger() (ledger.Report, error)       { return b.verify, nil }
func (b *fakeBackend) AddGrant(context.Context, *job.Grant) error { return nil }
func (b *fakeBackend) GC(bool) (*api.GCReport, error)             { return b.gc, nil }
func (b *fakeBackend) FetchContent(_ context.Context, c string) (api.ContentStat, error) {
	return api.ContentStat{CID: c, Files: 1, Bytes: 5, Blocks: 1}, nil
}

// filled returns a T with every field set (see fill).
func filled[T any]() T {
	var v T
	fill(reflect.ValueOf(&v).Elem(), 0)
	return v
}

// filledBackend is a backend whose every answer has every field set (but
// those JSON never carries), so that no omitempty hides a field.
func filledBackend() *fakeBackend {
	return &fakeBackend{
		info: filled[api.Info](), providers: filled[[]api.ProviderInfo](), challenge: filled[api.ChallengeResult](),
		jobs: filled[[]api.JobSummary](), record: filled[*api.JobRecord](), reps: filled[[]api.Reputation](),
		rates: filled[[]api.Rate](), credits: filled[api.Credits](), verify: filled[ledger.Report](), gc: filled[*api.GCReport](),
		provJobs: filled[api.ProviderJobs](),
	}
}

// fill sets every exported field JSON carries to a value other than its
// zero, recursively (slices and maps get one element).
func fill(v reflect.Value, depth int) {
	if depth > 8 {
		return
	}
	if v.Type() == reflect.TypeFor[time.Time]() {
		v.Set(reflect.ValueOf(time.UnixMilli(1_700_000_000_000 + int64(depth)).UTC()))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("s" + strings.Repeat("x", depth))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(7 + depth))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(9 + depth))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(0.5 + float64(depth))
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), depth+1)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0), depth+1)
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k, depth+1)
		fill(e, depth+1)
		v.SetMapIndex(k, e)
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if f.IsExported() && f.Tag.Get("json") != "-" {
				fill(v.Field(i), depth+1)
			}
		}
	}
}

// route is one typed route: how to ask it raw, how to ask it through the
// client, and what the backend answers.
type route struct {
	method, path, body string
	want               any
	viaClient          func(ctx context.Context, c *api.Client) (any, error)
}

func typedRoutes(b *fakeBackend) []route {
	return []route{
		{"GET", "/v1/info", "", b.info, func(ctx context.Context, c *api.Client) (any, error) { return c.Info(ctx) }},
		{"POST", "/v1/providers", "{}", b.providers, func(ctx context.Context, c *api.Client) (any, error) {
			return c.Providers(ctx, job.Need{})
		}},
		{"POST", "/v1/challenge", `{"peer":"p"}`, b.challenge, func(ctx context.Context, c *api.Client) (any, error) {
			return c.Challenge(ctx, "p")
		}},
		{"GET", "/v1/jobs", "", b.jobs, func(ctx context.Context, c *api.Client) (any, error) { return c.Jobs(ctx) }},
		{"GET", "/v1/jobs/" + b.record.ID, "", b.record, func(ctx context.Context, c *api.Client) (any, error) {
			return c.Job(ctx, b.record.ID)
		}},
		{"GET", "/v1/provider/jobs", "", b.provJobs, func(ctx context.Context, c *api.Client) (any, error) { return c.ProviderJobs(ctx) }},
		{"GET", "/v1/reputation", "", b.reps, func(ctx context.Context, c *api.Client) (any, error) { return c.Reputations(ctx) }},
		{"GET", "/v1/market?window=2h0m0s", "", b.rates, func(ctx context.Context, c *api.Client) (any, error) {
			return c.Market(ctx, 2*time.Hour)
		}},
		{"GET", "/v1/credits?recent=5", "", b.credits, func(ctx context.Context, c *api.Client) (any, error) {
			return c.Credits(ctx, 5)
		}},
		{"POST", "/v1/ledger/verify", "{}", b.verify, func(ctx context.Context, c *api.Client) (any, error) {
			return c.VerifyLedger(ctx)
		}},
		{"POST", "/v1/gc", `{"dry_run":true}`, b.gc, func(ctx context.Context, c *api.Client) (any, error) {
			return c.GC(ctx, true)
		}},
		{"GET", "/v1/content/bafkq", "", b.listing(), func(ctx context.Context, c *api.Client) (any, error) {
			return c.List(ctx, "bafkq", "")
		}},
		{"POST", "/v1/content/fetch", `{"cid":"bafkq"}`, api.ContentStat{CID: "bafkq", Files: 1, Bytes: 5, Blocks: 1}, func(ctx context.Context, c *api.Client) (any, error) {
			return c.FetchContent(ctx, "bafkq")
		}},
	}
}

// TestTypedRoutesDecodeStrictly checks, for each typed route, that its
// answer decodes into the type the Backend declares with no unknown field
// and no value lost, and that the client's method returns the same.
func TestTypedRoutesDecodeStrictly(t *testing.T) {
	dir := t.TempDir()
	b := filledBackend()
	srv, err := api.Listen("127.0.0.1:0", dir, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	tok, err := os.ReadFile(filepath.Join(dir, api.TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	v := openapitest.New(t) // every answer below is held to the OpenAPI document
	c, err := api.Dial(dir, api.WithHTTPClient(v.Client()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, r := range typedRoutes(b) {
		t.Run(r.method+" "+r.path, func(t *testing.T) {
			req, err := http.NewRequestWithContext(ctx, r.method, "http://"+srv.Addr()+r.path, strings.NewReader(r.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
			resp, err := v.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, %v: %s", resp.StatusCode, err, raw)
			}
			got := reflect.New(reflect.TypeOf(r.want))
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(got.Interface()); err != nil {
				t.Fatalf("decoding into %T: %v\n%s", r.want, err, raw)
			}
			if !reflect.DeepEqual(got.Elem().Interface(), r.want) {
				t.Fatalf("decoded %T differs from what the backend answered:\n got %+v\nwant %+v", r.want, got.Elem().Interface(), r.want)
			}
			viaClient, err := r.viaClient(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(viaClient, r.want) {
				t.Fatalf("the client's %T differs:\n got %+v\nwant %+v", r.want, viaClient, r.want)
			}
		})
	}
	if b.lastWindow != 2*time.Hour || b.lastRecent != 5 {
		t.Errorf("the backend was asked for window %v and %d receipts, want 2h and 5", b.lastWindow, b.lastRecent)
	}
	if _, err := c.Job(ctx, "nosuchjob"); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("an unknown job: %v, want an error wrapping ErrNotFound", err)
	}
	var e *api.Error
	if _, err := c.Market(ctx, 60*24*time.Hour); !errors.As(err, &e) || e.Code != api.CodeBadRequest || !strings.Contains(e.Message, "window") {
		t.Errorf("a window of 60 days: %v, want a bad_request error naming the window", err)
	}
	for _, r := range typedRoutes(b) {
		op := r.method + " " + strings.Split(r.path, "?")[0]
		if strings.HasPrefix(op, "GET /v1/jobs/") {
			op = "GET /v1/jobs/{id}"
		}
		if strings.HasPrefix(op, "GET /v1/content/") {
			op = "GET /v1/content/{cid}"
		}
		if v.Seen()[op] < 2 {
			t.Errorf("%s: %d answers validated against the document, want 2 (raw and the client's)", op, v.Seen()[op])
		}
	}
}

func (b *fakeBackend) Content(context.Context, string, string) (*api.Content, error) {
	return &api.Content{Listing: b.listing()}, nil
}

func (b *fakeBackend) listing() *api.ContentListing {
	return &api.ContentListing{CID: "bafkq", Entries: []api.ContentEntry{{Name: "a", CID: "bafkq", Type: api.EntryFile, Size: 1}}}
}

func (b *fakeBackend) ProviderJobs() (api.ProviderJobs, error) { return b.provJobs, nil }
