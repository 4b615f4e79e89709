package api

import (
	_ "embed" // the OpenAPI document
	"encoding/json"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/ledger"
)

// Media types the API answers with.
const (
	MediaJSON   = "application/json"
	MediaNDJSON = "application/x-ndjson" // one JSON value a line, as they happen
	MediaBytes  = "application/octet-stream"
	MediaText   = "text/plain"
)

// Route is one operation of the API as its OpenAPI document describes it.
type Route struct {
	Method, Path string // Path as the server's patterns write it: /v1/jobs/{id}
	Summary      string
	Query        []Param
	Body         reflect.Type // the JSON request body's type; nil: none
	Status       int          // of success
	Answer       reflect.Type // the success body's type; nil: none
	Media        string       // of the success body (MediaJSON when empty)
	// Download: the success body may be a file's bytes (MediaBytes) instead.
	Download bool
}

// Param is a query parameter of a route.
type Param struct {
	Name, Type, Description string // Type: string, integer or boolean
}

// Routes lists every operation the API serves: the OpenAPI document is
// built from it (Document), and a test holds it to the server's own
// routes and every answer to its schemas.
func Routes() []Route {
	return []Route{
		{Method: "GET", Path: "/v1/info", Summary: "The node: identity, mode, capacity, peers, balance", Answer: reflect.TypeFor[Info]()},
		{Method: "POST", Path: "/v1/jobs", Summary: "Submit a job; the answer streams its events, then its outcome (or an error)",
			Query: []Param{{"events", "boolean", "false: the outcome line alone"}}, Body: reflect.TypeFor[SubmitRequest](), Answer: reflect.TypeFor[Line](), Media: MediaNDJSON},
		{Method: "GET", Path: "/v1/jobs", Summary: "The jobs this node submitted that it keeps records of, newest first", Answer: reflect.TypeFor[[]JobSummary]()},
		{Method: "GET", Path: "/v1/jobs/{id}", Summary: "One job's record (by ID, unique prefix or short form): rounds, bids, rejections, attempts, outcome", Answer: reflect.TypeFor[JobRecord]()},
		{Method: "POST", Path: "/v1/jobs/{id}/cancel", Summary: "Cancel a job this node submitted", Status: http.StatusNoContent},
		{Method: "GET", Path: "/v1/jobs/{id}/events", Summary: "A job's events so far (its log lines among them), and with follow=1 those to come until it ends",
			Query: []Param{{"follow", "string", "1: follow the job until it ends"}}, Answer: reflect.TypeFor[Line](), Media: MediaNDJSON},
		{Method: "GET", Path: "/v1/provider/jobs", Summary: "The jobs this node runs and has queued as a provider", Answer: reflect.TypeFor[ProviderJobs]()},
		{Method: "GET", Path: "/v1/market", Summary: "Going rates in the bids heard",
			Query: []Param{{"window", "string", "a Go duration of up to 30 days (default 1h)"}}, Answer: reflect.TypeFor[[]Rate]()},
		{Method: "GET", Path: "/v1/credits", Summary: "The node's balance, recent receipts and ledger",
			Query: []Param{{"recent", "integer", "receipts to list, 0 to 10000 (default 20)"}}, Answer: reflect.TypeFor[Credits]()},
		{Method: "POST", Path: "/v1/grants", Summary: "Add a faucet-signed grant to the ledger and gossip it", Body: reflect.TypeFor[job.Grant](), Status: http.StatusNoContent},
		{Method: "POST", Path: "/v1/ledger/verify", Summary: "Re-check every record of the node's ledger", Answer: reflect.TypeFor[ledger.Report]()},
		{Method: "GET", Path: "/v1/reputation", Summary: "What the node has seen of each provider, best first", Answer: reflect.TypeFor[[]Reputation]()},
		{Method: "POST", Path: "/v1/providers", Summary: "Search the mesh for providers that meet a need", Body: reflect.TypeFor[job.Need](), Answer: reflect.TypeFor[[]ProviderInfo]()},
		{Method: "POST", Path: "/v1/challenge", Summary: "Check a provider's claimed benchmark score", Body: reflect.TypeFor[ChallengeRequest](), Answer: reflect.TypeFor[ChallengeResult]()},
		{Method: "POST", Path: "/v1/gc", Summary: "Collect the node's content store", Body: reflect.TypeFor[GCRequest](), Answer: reflect.TypeFor[GCReport]()},
		{Method: "POST", Path: "/v1/content/fetch", Summary: "Fetch published content into the node's store from whoever holds it", Body: reflect.TypeFor[ContentRequest](), Answer: reflect.TypeFor[ContentStat]()},
		{Method: "GET", Path: "/v1/content/{cid}", Summary: "A directory's listing, or a file's bytes, of the node's store", Answer: reflect.TypeFor[ContentListing](), Download: true},
		{Method: "GET", Path: "/v1/content/{cid}/{path...}", Summary: "The directory or file at a path beneath a CID (names joined by /)", Answer: reflect.TypeFor[ContentListing](), Download: true},
		{Method: "POST", Path: "/v1/drain", Summary: "Take no new jobs; stop once the running ones have finished", Status: http.StatusAccepted},
		{Method: "POST", Path: "/v1/dashboard/login", Summary: "A one-time URL that logs a browser into the dashboard (served with the dashboard only)", Answer: reflect.TypeFor[Login]()},
		{Method: "POST", Path: "/v1/dashboard/logout", Summary: "End the browser session of the request's cookie and clear the cookie (served with the dashboard only)", Status: http.StatusNoContent},
		{Method: "GET", Path: "/v1/openapi.json", Summary: "This document", Answer: reflect.TypeFor[map[string]any]()},
		{Method: "GET", Path: "/metrics", Summary: "Prometheus metrics (docs/METRICS.md)", Media: MediaText, Answer: reflect.TypeFor[string]()},
	}
}

//go:embed openapi.json
var openAPIFile []byte

// OpenAPI returns the API's OpenAPI document as kept in the repository
// (api/openapi.json) and served at GET /v1/openapi.json; a test holds it
// equal to what Document builds.
func OpenAPI() []byte { return append([]byte(nil), openAPIFile...) }

// Document builds the OpenAPI 3.0 document of Routes.
func Document() ([]byte, error) {
	s := newSchemas()
	errSchema := s.of(reflect.TypeFor[Error]())
	paths := map[string]map[string]any{}
	for _, r := range Routes() {
		p := strings.ReplaceAll(r.Path, "...}", "}")
		if paths[p] == nil {
			paths[p] = map[string]any{}
		}
		paths[p][strings.ToLower(r.Method)] = operation(s, r, errSchema)
	}
	doc := map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{
			"title":   "computemesh node API",
			"version": "1",
			"description": "The local API of a computemesh node: bound to loopback, every request with the bearer token " +
				"of <data-dir>/api.token. Every error answers with an Error (code and message).",
		},
		"servers":    []any{map[string]any{"url": "http://127.0.0.1:7777"}},
		"security":   []any{map[string]any{"bearer": []any{}}},
		"paths":      paths,
		"components": map[string]any{"schemas": s.components, "securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer"}}},
	}
	return json.MarshalIndent(doc, "", "  ")
}

// operation is route r's OpenAPI operation.
func operation(s *schemas, r Route, errSchema map[string]any) map[string]any {
	var params []any
	for _, name := range pathParams(r.Path) {
		params = append(params, map[string]any{"name": name, "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
	}
	for _, q := range r.Query {
		params = append(params, map[string]any{"name": q.Name, "in": "query", "description": q.Description, "schema": map[string]any{"type": q.Type}})
	}
	status := r.Status
	if status == 0 {
		status = http.StatusOK
	}
	ok := map[string]any{"description": http.StatusText(status)}
	if r.Answer != nil {
		media := r.Media
		if media == "" {
			media = MediaJSON
		}
		content := map[string]any{media: map[string]any{"schema": s.of(r.Answer)}}
		if r.Download {
			content[MediaBytes] = map[string]any{"schema": map[string]any{"type": "string", "format": "binary"}}
		}
		ok["content"] = content
	}
	op := map[string]any{
		"summary":     r.Summary,
		"operationId": operationID(r),
		"responses": map[string]any{
			strconv.Itoa(status): ok,
			"default":            map[string]any{"description": "An error", "content": map[string]any{MediaJSON: map[string]any{"schema": errSchema}}},
		},
	}
	if len(params) > 0 {
		op["parameters"] = params
	}
	if r.Body != nil {
		op["requestBody"] = map[string]any{"required": true, "content": map[string]any{MediaJSON: map[string]any{"schema": s.of(r.Body)}}}
	}
	return op
}

// pathParams names the {parameters} of path.
func pathParams(path string) []string {
	var out []string
	for _, seg := range strings.Split(path, "/") {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			out = append(out, strings.TrimSuffix(strings.Trim(seg, "{}"), "..."))
		}
	}
	return out
}

// operationID names route r: its method and path, in camel case.
func operationID(r Route) string {
	id := strings.ToLower(r.Method)
	for _, seg := range strings.FieldsFunc(r.Path, func(c rune) bool { return c == '/' || c == '.' || c == '_' }) {
		seg = strings.Trim(seg, "{}.")
		if seg == "v1" || seg == "" {
			continue
		}
		id += strings.ToUpper(seg[:1]) + seg[1:]
	}
	return id
}
