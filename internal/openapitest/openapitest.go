// Package openapitest holds the node API's answers to its OpenAPI
// document (api.OpenAPI) in tests: a Transport validates every response
// that passes through it — status, media type, and body against the
// operation's schema, where every object is closed (no undeclared field).
package openapitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/computemesh/computemesh/api"
	"github.com/getkin/kin-openapi/openapi3"
)

// Validator checks responses against the API's document and reports
// what fails to the test when it ends.
type Validator struct {
	doc    *openapi3.T
	routes []route
	mu     sync.Mutex
	errs   []string
	seen   map[string]int // successful (2xx) responses validated, by operation
}

type route struct {
	method, path string // the document's path
	re           *regexp.Regexp
}

// New loads and validates the document; failures are reported to t at
// its end.
func New(t testing.TB) *Validator {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(api.OpenAPI())
	if err != nil {
		t.Fatalf("loading the OpenAPI document: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the OpenAPI document is not valid: %v", err)
	}
	v := &Validator{doc: doc, seen: map[string]int{}}
	for _, r := range api.Routes() {
		p := strings.ReplaceAll(r.Path, "...}", "}")
		expr := regexp.MustCompile(`\\\{[a-z]+\\\}`).ReplaceAllStringFunc(regexp.QuoteMeta(r.Path), func(m string) string {
			return `[^/]+`
		})
		expr = strings.ReplaceAll(expr, `\{path\.\.\.\}`, `.+`)
		v.routes = append(v.routes, route{method: r.Method, path: p, re: regexp.MustCompile("^" + expr + "$")})
	}
	t.Cleanup(func() {
		v.mu.Lock()
		defer v.mu.Unlock()
		for _, e := range v.errs {
			t.Errorf("OpenAPI: %s", e)
		}
	})
	return v
}

// Seen returns how many successful (2xx) responses of each operation
// ("GET /v1/jobs/{id}") were validated: an operation that only ever
// answered errors does not count as seen.
func (v *Validator) Seen() map[string]int {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := map[string]int{}
	for k, n := range v.seen {
		out[k] = n
	}
	return out
}

// Take returns the failures so far and forgets them (a test that
// expects some).
func (v *Validator) Take() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := v.errs
	v.errs = nil
	return out
}

func (v *Validator) fail(format string, args ...any) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.errs = append(v.errs, fmt.Sprintf(format, args...))
}

// Client returns an HTTP client whose every response is validated.
func (v *Validator) Client() *http.Client {
	return &http.Client{Transport: v.Transport(http.DefaultTransport)}
}

// Transport wraps next: each response is validated as its body is read.
func (v *Validator) Transport(next http.RoundTripper) http.RoundTripper {
	return roundTrip(func(req *http.Request) (*http.Response, error) {
		resp, err := next.RoundTrip(req)
		if err != nil {
			return resp, err
		}
		v.check(req, resp)
		return resp, nil
	})
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// check finds the response's schema and wraps its body to validate it.
func (v *Validator) check(req *http.Request, resp *http.Response) {
	var op *route
	for i := range v.routes {
		r := &v.routes[i]
		if r.method == req.Method && r.re.MatchString(req.URL.Path) {
			op = r
			break
		}
	}
	name := req.Method + " " + req.URL.Path
	if op == nil {
		v.fail("%s: no operation of the document matches (status %d)", name, resp.StatusCode)
		return
	}
	name = op.method + " " + op.path
	media, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	pi := v.doc.Paths.Value(op.path)
	if pi == nil || pi.GetOperation(op.method) == nil {
		v.fail("%s: api.Routes has it, the document does not (regenerate api/openapi.json)", name)
		return
	}
	o := pi.GetOperation(op.method)
	r := o.Responses.Status(resp.StatusCode)
	if r == nil {
		r = o.Responses.Default()
	}
	if r == nil || r.Value == nil {
		v.fail("%s: status %d is not documented", name, resp.StatusCode)
		return
	}
	if r.Value.Content == nil || resp.StatusCode == http.StatusNoContent {
		v.count(name, resp.StatusCode)
		return
	}
	mt := r.Value.Content.Get(media)
	if mt == nil || mt.Schema == nil {
		v.fail("%s: status %d answered %q, not documented", name, resp.StatusCode, media)
		return
	}
	if media == api.MediaBytes || media == api.MediaText {
		v.count(name, resp.StatusCode)
		return
	}
	resp.Body = &checked{ReadCloser: resp.Body, v: v, name: name, status: resp.StatusCode, schema: mt.Schema.Value, ndjson: media == api.MediaNDJSON}
}

func (v *Validator) count(name string, status int) {
	if status < 200 || status > 299 {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.seen[name]++
}

// checked is a response body validated as it is read: line by line for
// NDJSON, whole at its end for JSON.
type checked struct {
	io.ReadCloser
	v      *Validator
	name   string
	status int
	schema *openapi3.Schema
	ndjson bool
	buf    bytes.Buffer
	done   bool
}

func (c *checked) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.buf.Write(p[:n])
	if c.ndjson {
		for {
			line, rerr := c.buf.ReadBytes('\n')
			if rerr != nil { // a partial line: kept for the next read
				c.buf.Reset()
				c.buf.Write(line)
				break
			}
			c.value(line)
		}
	}
	if err == io.EOF && !c.done {
		c.done = true
		if rest := bytes.TrimSpace(c.buf.Bytes()); len(rest) > 0 || !c.ndjson {
			c.value(rest)
		}
		c.v.count(c.name, c.status)
	}
	return n, err
}

// Close validates a JSON body its reader left unread to the end (a
// json.Decoder stops at the value's end), reading the rest first.
func (c *checked) Close() error {
	if !c.ndjson && !c.done {
		_, _ = io.Copy(io.Discard, struct{ io.Reader }{c})
	}
	return c.ReadCloser.Close()
}

// value validates one JSON value against the schema.
func (c *checked) value(b []byte) {
	var x any
	if err := json.Unmarshal(b, &x); err != nil {
		c.v.fail("%s: not JSON: %v: %.200s", c.name, err, b)
		return
	}
	if err := c.schema.VisitJSON(x); err != nil {
		c.v.fail("%s: does not match its schema: %v\n%.500s", c.name, err, b)
	}
}
