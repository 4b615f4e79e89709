package api_test

import (
	"bytes"
	"context"
	"flag"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/internal/openapitest"
)

var update = flag.Bool("update", false, "rewrite api/openapi.json from api.Document")

// The document kept in the repository (and served) is the one Routes
// builds: go test ./api -run TestOpenAPIFileCurrent -update rewrites it.
func TestOpenAPIFileCurrent(t *testing.T) {
	doc, err := api.Document()
	if err != nil {
		t.Fatal(err)
	}
	doc = append(doc, '\n')
	if *update {
		if err := os.WriteFile("openapi.json", doc, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(doc, api.OpenAPI()) {
		t.Fatal("api/openapi.json is not what api.Document builds from api.Routes: run go test ./api -run TestOpenAPIFileCurrent -update")
	}
	openapitest.New(t) // loads and validates it
}

// Every route the server serves is in the document, and every route of
// the document is served: a route on one side only fails.
func TestOpenAPIRoutesBothWays(t *testing.T) {
	srv, err := api.Listen("127.0.0.1:0", t.TempDir(), filledBackend(), http.NotFoundHandler(), api.Pages(http.NotFoundHandler()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	var served, documented []string
	for _, p := range srv.Patterns() {
		if _, path, _ := strings.Cut(p, " "); strings.HasPrefix(p, "/dashboard/") || strings.HasPrefix(path, "/dashboard/") {
			continue // the dashboard's pages: HTML for browsers, not API
		}
		served = append(served, p)
	}
	for _, r := range api.Routes() {
		documented = append(documented, r.Method+" "+r.Path)
	}
	slices.Sort(served)
	slices.Sort(documented)
	for _, p := range served {
		if !slices.Contains(documented, p) {
			t.Errorf("%s is served but not in api.Routes (the OpenAPI document)", p)
		}
	}
	for _, p := range documented {
		if !slices.Contains(served, p) {
			t.Errorf("%s is in api.Routes (the OpenAPI document) but not served", p)
		}
	}
}

// The served document is the kept one.
func TestOpenAPIServed(t *testing.T) {
	dir := t.TempDir()
	srv, err := api.Listen("127.0.0.1:0", dir, filledBackend(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	v := openapitest.New(t)
	c, err := api.Dial(dir, api.WithHTTPClient(v.Client()))
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.OpenAPI(context.Background())
	if err != nil || !bytes.Equal(got, api.OpenAPI()) {
		t.Fatalf("GET /v1/openapi.json: %d bytes, %v; want the %d of api/openapi.json", len(got), err, len(api.OpenAPI()))
	}
}
