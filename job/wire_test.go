package job_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/computemesh/computemesh/job"
)

const (
	testClient   = "12D3KooWClientPeerID"
	testProvider = "12D3KooWProviderPeerID"
)

var testNonce = []byte("0123456789abcdef")

func testRequest() *job.Request {
	s := testSpec()
	return job.NewRequest(job.NewID(s, testClient, testNonce).String(), testClient, s, 1_700_000_000_000)
}

func testBid() *job.Bid {
	return &job.Bid{
		V: job.Version, Job: job.NewID(testSpec(), testClient, testNonce).String(), Provider: testProvider,
		Price: 2_777_778, Rates: job.Rates{CPUHour: job.Nano}, Region: "eu-west", ExpiresMS: 1_700_000_030_000,
	}
}

func testAward() *job.Award {
	return &job.Award{
		V: job.Version, Job: job.NewID(testSpec(), testClient, testNonce).String(), Client: testClient,
		Nonce: append([]byte(nil), testNonce...), Spec: *testSpec(), Bid: *testBid(), Attempt: 1,
	}
}

func testReply() *job.Reply {
	return &job.Reply{Type: job.ReplyResult, Result: &job.Result{
		Job: testBid().Job, Provider: testProvider, ExitCode: 3, Stdout: []byte("hello world\n"),
		Stderr: []byte{0xff, 0}, TimedOut: true, RunMS: 12.5, Charge: 1234,
	}}
}

func TestNewRequest(t *testing.T) {
	s := testSpec()
	id := job.NewID(s, testClient, testNonce).String()
	r := job.NewRequest(id, testClient, s, 42)
	want := job.Request{
		V: job.Version, Job: id, Client: testClient, SpecCID: s.CID().String(), Module: s.Module,
		Executor: s.Executor, Resources: s.Resources, TimeoutMS: s.TimeoutMS, MaxPrice: s.MaxPrice,
		Region: s.Region, BidByMS: 42,
	}
	if !reflect.DeepEqual(*r, want) {
		t.Fatalf("NewRequest =\n%+v\nwant\n%+v", *r, want)
	}
	if err := r.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if r.Timeout() != s.Timeout() {
		t.Fatalf("Timeout() = %v, want %v", r.Timeout(), s.Timeout())
	}
	// Nothing private travels in gossip.
	enc := string(job.Encode(r))
	for _, secret := range []string{"world", "HELLO_NAME", "computemesh", "input", "aW5wdXQ"} {
		if strings.Contains(enc, secret) {
			t.Errorf("gossiped request %s contains %q from args, env or stdin", enc, secret)
		}
	}
}

// jsonWith returns the JSON encoding of v with field set to value (nil
// deletes it); value is any JSON-encodable value.
func jsonWith(t testing.TB, v any, field string, value any) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(job.Encode(v), &m); err != nil {
		t.Fatal(err)
	}
	if value == nil {
		delete(m, field)
	} else {
		m[field] = value
	}
	return job.Encode(m)
}

func TestDecodeValid(t *testing.T) {
	tests := []struct {
		name  string
		in    any
		limit int
		out   func() any
	}{
		{"request", testRequest(), job.MaxGossipSize, func() any { return new(job.Request) }},
		{"bid", testBid(), job.MaxGossipSize, func() any { return new(job.Bid) }},
		{"decline", &job.Bid{V: 1, Job: testBid().Job, Provider: testProvider, Decline: job.DeclineBusy, Detail: "full"}, job.MaxGossipSize, func() any { return new(job.Bid) }},
		{"award", testAward(), job.MaxAwardSize, func() any { return new(job.Award) }},
		{"reply", testReply(), job.MaxReplySize, func() any { return new(job.Reply) }},
		{"accepted", &job.Reply{Type: job.ReplyAccepted}, job.MaxReplySize, func() any { return new(job.Reply) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := job.Encode(tt.in)
			for _, variant := range [][]byte{b, append(append([]byte(" \n"), b...), "\n\t "...)} {
				out := tt.out()
				if err := job.Decode(variant, tt.limit, out); err != nil {
					t.Fatalf("Decode(%s): %v", variant, err)
				}
				if got := job.Encode(out); !bytes.Equal(got, b) {
					t.Fatalf("decoded and re-encoded:\n%s\nwant\n%s", got, b)
				}
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	req := job.Encode(testRequest())
	tests := []struct {
		name    string
		in      []byte
		limit   int
		out     any
		wantErr string
	}{
		{"oversize", req, len(req) - 1, new(job.Request), fmt.Sprintf("message of %d bytes exceeds the limit of %d", len(req), len(req)-1)},
		{"at the limit", req, len(req), new(job.Request), ""},
		{"unknown field", jsonWith(t, testRequest(), "extra", 1), job.MaxGossipSize, new(job.Request), `unknown field "extra"`},
		{"unknown field in award spec", bytes.Replace(job.Encode(testAward()), []byte(`"spec":{`), []byte(`"spec":{"gpu":1,`), 1), job.MaxAwardSize, new(job.Award), `unknown field "gpu"`},
		{"trailing object", append(append([]byte{}, req...), "{}"...), job.MaxGossipSize, new(job.Request), "trailing data"},
		{"trailing garbage", append(append([]byte{}, req...), " x"...), job.MaxGossipSize, new(job.Request), "trailing data"},
		{"two messages", append(append([]byte{}, req...), req...), 2 * job.MaxGossipSize, new(job.Request), "trailing data"},
		{"not JSON", []byte("hello"), job.MaxGossipSize, new(job.Request), "decoding *job.Request"},
		{"truncated", req[:len(req)/2], job.MaxGossipSize, new(job.Request), "decoding *job.Request"},
		{"empty", nil, job.MaxGossipSize, new(job.Request), "decoding *job.Request"},
		{"wrong type", []byte(`{"v":"1"}`), job.MaxGossipSize, new(job.Request), "decoding *job.Request"},
		{"array", []byte(`[]`), job.MaxGossipSize, new(job.Bid), "decoding *job.Bid"},
		{"null is not a valid request", []byte(`null`), job.MaxGossipSize, new(job.Request), "invalid *job.Request: v:"},
		{"float credits", jsonWith(t, testBid(), "price", 1.5), job.MaxGossipSize, new(job.Bid), "decoding *job.Bid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := job.Decode(tt.in, tt.limit, tt.out)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Decode error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestDecodeInvalidRequest(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(r *job.Request)
		wantErr string // "invalid *job.Request: " + this prefix
	}{
		{"version", func(r *job.Request) { r.V = 2 }, "v: version 2"},
		{"no version", func(r *job.Request) { r.V = 0 }, "v: version 0"},
		{"job", func(r *job.Request) { r.Job = "job-1" }, "job:"},
		{"no job", func(r *job.Request) { r.Job = "" }, "job: missing CID"},
		{"spec", func(r *job.Request) { r.SpecCID = "x" }, "spec:"},
		{"module", func(r *job.Request) { r.Module = "" }, "module:"},
		{"no client", func(r *job.Request) { r.Client = "" }, "client:"},
		{"long client", func(r *job.Request) { r.Client = strings.Repeat("c", 129) }, "client:"},
		{"executor", func(r *job.Request) { r.Executor = "native" }, "executor:"},
		{"cpus", func(r *job.Request) { r.Resources.CPUMillis = 0 }, "resources.cpus:"},
		{"memory", func(r *job.Request) { r.Resources.MemoryBytes = job.MaxMemoryBytes + 1 }, "resources.memory:"},
		{"timeout", func(r *job.Request) { r.TimeoutMS = 0 }, "timeout_ms:"},
		{"long timeout", func(r *job.Request) { r.TimeoutMS = job.MaxTimeout.Milliseconds() + 1 }, "timeout_ms:"},
		{"max price", func(r *job.Request) { r.MaxPrice = -1 }, "max_price:"},
		{"region", func(r *job.Request) { r.Region = "eu-[" }, "region:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := testRequest()
			tt.mutate(r)
			err := job.Decode(job.Encode(r), job.MaxGossipSize, new(job.Request))
			want := "invalid *job.Request: " + tt.wantErr
			if err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("Decode error = %v, want prefix %q", err, want)
			}
		})
	}
}

func TestDecodeInvalidBid(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(b *job.Bid)
		wantErr string
	}{
		{"version", func(b *job.Bid) { b.V = 0 }, "v:"},
		{"job", func(b *job.Bid) { b.Job = "nope" }, "job:"},
		{"no provider", func(b *job.Bid) { b.Provider = "" }, "provider:"},
		{"long provider", func(b *job.Bid) { b.Provider = strings.Repeat("p", 129) }, "provider:"},
		{"long decline", func(b *job.Bid) { b.Decline = job.DeclineReason(strings.Repeat("d", 33)) }, "decline, detail or region:"},
		{"long detail", func(b *job.Bid) { b.Detail = strings.Repeat("d", 513) }, "decline, detail or region:"},
		{"long region", func(b *job.Bid) { b.Region = strings.Repeat("r", job.MaxRegionLen+1) }, "decline, detail or region:"},
		{"negative price", func(b *job.Bid) { b.Price = -1 }, "price:"},
		{"negative rate", func(b *job.Bid) { b.Rates.CPUHour = -1 }, "price:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := testBid()
			tt.mutate(b)
			err := job.Decode(job.Encode(b), job.MaxGossipSize, new(job.Bid))
			want := "invalid *job.Bid: " + tt.wantErr
			if err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("Decode error = %v, want prefix %q", err, want)
			}
		})
	}
}

func TestDecodeInvalidAward(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(a *job.Award)
		wantErr string
	}{
		{"version", func(a *job.Award) { a.V = 2 }, "v:"},
		{"spec name", func(a *job.Award) { a.Spec.Name = "" }, "spec.name:"},
		{"spec executor", func(a *job.Award) { a.Spec.Executor = "x" }, "spec.executor:"},
		{"spec resources", func(a *job.Award) { a.Spec.Resources.MemoryBytes = 0 }, "spec.resources.memory:"},
		{"no nonce", func(a *job.Award) { a.Nonce = nil }, "nonce:"},
		{"long nonce", func(a *job.Award) { a.Nonce = make([]byte, 65) }, "nonce:"},
		{"job of another nonce", func(a *job.Award) { a.Nonce = []byte("another nonce") }, "job:"},
		{"job of another client", func(a *job.Award) { a.Client = "12D3KooWMallory" }, "job:"},
		{"job of another spec", func(a *job.Award) { a.Spec.Args = []string{"rm", "-rf"} }, "job:"},
		{"spec with more resources", func(a *job.Award) { a.Spec.Resources.CPUMillis *= 4 }, "job:"},
		{"job not a CID", func(a *job.Award) { a.Job = "job" }, "job:"},
		{"invalid bid", func(a *job.Award) { a.Bid.Provider = "" }, "provider:"},
		{"bid with negative price", func(a *job.Award) { a.Bid.Price = -5 }, "price:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := testAward()
			tt.mutate(a)
			err := job.Decode(job.Encode(a), job.MaxAwardSize, new(job.Award))
			want := "invalid *job.Award: " + tt.wantErr
			if err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("Decode error = %v, want prefix %q", err, want)
			}
		})
	}
	t.Run("mismatch names both IDs", func(t *testing.T) {
		a := testAward()
		a.Nonce = []byte("another nonce")
		err := a.Validate()
		real := job.NewID(&a.Spec, a.Client, a.Nonce).String()
		if err == nil || !strings.Contains(err.Error(), a.Job) || !strings.Contains(err.Error(), real) {
			t.Fatalf("Validate error = %v, want it to name %s and %s", err, a.Job, real)
		}
	})
}

// fuzzRoundTrip checks the codec properties every decoder must have: Decode
// never panics; what it accepts re-encodes to JSON that decodes again
// (validation included) to the same encoding.
func fuzzRoundTrip[T any](t *testing.T, data []byte, limit int) {
	var v T
	if err := job.Decode(data, limit, &v); err != nil {
		return
	}
	enc := job.Encode(&v)
	var again T
	// Re-encoding may escape what the input had raw (<, >, &, U+FFFD for
	// invalid UTF-8), so the size limit is not the property tested here.
	if err := job.Decode(enc, len(enc), &again); err != nil {
		t.Fatalf("accepted %q, but its re-encoding %s does not decode: %v", data, enc, err)
	}
	if enc2 := job.Encode(&again); !bytes.Equal(enc, enc2) {
		t.Fatalf("re-encoding is not stable:\n%s\n%s", enc, enc2)
	}
}

func FuzzDecodeRequest(f *testing.F) {
	f.Add(job.Encode(testRequest()))
	f.Add(jsonWith(f, testRequest(), "region", nil))
	f.Add(jsonWith(f, testRequest(), "max_price", 0))
	f.Add(jsonWith(f, testRequest(), "extra", true))
	f.Add([]byte(`{"v":1}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"v":1,"job":"\u00ff\ud800"}`))
	f.Add(jsonWith(f, testRequest(), "count", 10000)) // a job array
	f.Add(jsonWith(f, testRequest(), "count", 10001))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzRoundTrip[job.Request](t, data, job.MaxGossipSize)
		var r job.Request
		if job.Decode(data, job.MaxGossipSize, &r) == nil {
			if r.V != job.Version || r.TimeoutMS <= 0 || r.MaxPrice < 0 || r.Resources.CPUMillis <= 0 || r.Count < 0 || r.Count > job.MaxCount {
				t.Fatalf("accepted an invalid request %+v", r)
			}
		}
	})
}

func FuzzDecodeBid(f *testing.F) {
	f.Add(job.Encode(testBid()))
	f.Add(job.Encode(&job.Bid{V: 1, Job: testBid().Job, Provider: testProvider, Decline: job.DeclineRegion, Detail: "no"}))
	f.Add(jsonWith(f, testBid(), "price", -1))
	f.Add(jsonWith(f, testBid(), "PRICE", 7))
	f.Add([]byte(`{"v":1,"job":"bafkreie","provider":"p"}`))
	f.Add(jsonWith(f, testBid(), "tasks", 64)) // a bid for a slice of a job array
	f.Add(jsonWith(f, testBid(), "tasks", -1))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzRoundTrip[job.Bid](t, data, job.MaxGossipSize)
		var b job.Bid
		if job.Decode(data, job.MaxGossipSize, &b) == nil && (b.Price < 0 || b.Rates.CPUHour < 0 || b.Provider == "" || b.Tasks < 0 || b.Tasks > job.MaxCount) {
			t.Fatalf("accepted an invalid bid %+v", b)
		}
	})
}

func FuzzDecodeAward(f *testing.F) {
	f.Add(job.Encode(testAward()))
	a := testAward()
	a.Spec.Env, a.Spec.Args, a.Spec.Stdin = nil, nil, nil
	a.Job = job.NewID(&a.Spec, a.Client, a.Nonce).String()
	f.Add(job.Encode(a))
	a.Nonce = []byte("x")
	f.Add(job.Encode(a)) // job ID mismatch
	f.Add(bytes.Replace(job.Encode(testAward()), []byte(`"args":["world"]`), []byte(`"args":[]`), 1))
	f.Add([]byte(`{"v":1,"spec":{"env":{"A":"\u0000"}}}`))
	f.Add(job.Encode(arrayAward(8, []int{0, 3, 7}))) // a job array's slice
	f.Add(job.Encode(arrayAward(8, []int{3, 3})))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzRoundTrip[job.Award](t, data, job.MaxAwardSize)
		var a job.Award
		if job.Decode(data, job.MaxAwardSize, &a) == nil {
			for i, task := range a.Tasks {
				if task < 0 || task >= a.Spec.Count || i > 0 && task <= a.Tasks[i-1] {
					t.Fatalf("accepted a slice %v of an array of %d", a.Tasks, a.Spec.Count)
				}
			}
			if id := job.NewID(&a.Spec, a.Client, a.Nonce).String(); id != a.Job {
				t.Fatalf("accepted an award whose job %s is not its ID %s", a.Job, id)
			}
			if err := a.Spec.Validate(); err != nil {
				t.Fatalf("accepted an award with an invalid spec: %v", err)
			}
		}
	})
}

func FuzzDecodeReply(f *testing.F) {
	f.Add(job.Encode(testReply()))
	f.Add(job.Encode(&job.Reply{Type: job.ReplyAccepted}))
	f.Add(job.Encode(&job.Reply{Type: job.ReplyDeclined, Reason: "busy"}))
	f.Add([]byte(`{"type":"result","result":{"run_ms":1e308,"stdout":"aGk="}}`))
	f.Add([]byte(`{"type":"result","result":null}`))
	f.Add([]byte(`{"type":"result","result":{"run_ms":-0}}`))
	f.Add([]byte(`{"type":"result","result":{"job":"` + testBid().Job + `","task":9999}}`)) // a job array's task
	f.Add([]byte(`{"type":"result","result":{"job":"` + testBid().Job + `","task":-1}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzRoundTrip[job.Reply](t, data, job.MaxReplySize)
		var r job.Reply
		if job.Decode(data, job.MaxReplySize, &r) == nil && r.Result != nil && (r.Result.Task < 0 || r.Result.Task >= job.MaxCount) {
			t.Fatalf("accepted a result for task %d", r.Result.Task)
		}
	})
}

// A request says whether its job has URL inputs (providers whose owner
// does not fetch them decline), and nothing more of its inputs.
func TestRequestURLInputs(t *testing.T) {
	s := &job.Spec{Executor: job.ExecutorWASM, Module: job.ModuleCID([]byte("m")).String(), TimeoutMS: 1000,
		Resources: job.Resources{CPUMillis: 100, MemoryBytes: 1 << 20}}
	if job.NewRequest("j", "c", s, 0).URLInputs {
		t.Fatal("a job without inputs: URLInputs set")
	}
	s.Inputs = []job.Input{{Name: "a", CID: job.ModuleCID([]byte("a")).String()}}
	if job.NewRequest("j", "c", s, 0).URLInputs {
		t.Fatal("a job with a CID input: URLInputs set")
	}
	s.Inputs = append(s.Inputs, job.Input{Name: "b", URL: "https://example.org/b"})
	r := job.NewRequest("j", "c", s, 0)
	if !r.URLInputs {
		t.Fatal("a job with a URL input: URLInputs not set")
	}
	if b := job.Encode(r); strings.Contains(string(b), "example.org") {
		t.Fatalf("the gossiped request carries the URL: %s", b)
	}
	// Nor the CID of an input from the client's store (issue #17, data
	// residency: it reaches only the provider awarded, in the job's
	// regions); an IPFS input's CID, public data of a job without a region
	// constraint, is named for the providers' bids (Bid.Held).
	ipfs := job.ModuleCID([]byte("c")).String()
	s.Inputs = append(s.Inputs, job.Input{Name: "c", CID: ipfs, Source: job.SourceIPFS})
	r = job.NewRequest("j", "c", s, 0)
	if b := job.Encode(r); strings.Contains(string(b), s.Inputs[0].CID) {
		t.Fatalf("the gossiped request carries a client input's CID: %s", b)
	}
	if len(r.IPFSInputs) != 1 || r.IPFSInputs[0] != ipfs {
		t.Fatalf("the request's IPFS inputs: %v, want [%s]", r.IPFSInputs, ipfs)
	}
}
