package openapitest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The validator catches what the document does not declare: a field too
// many, a field of the wrong type, a missing required field, an error of
// another shape, an undocumented route.
func TestValidatorCatchesUndeclared(t *testing.T) {
	bodies := map[string]string{
		"/v1/jobs":        `[{"id":"j","state":"completed","submitted":"2026-01-01T00:00:00Z","bogus":1}]`,
		"/v1/reputation":  `[{"peer":7}]`,
		"/v1/credits":     `{"peer":"p"}`,
		"/v1/jobs/x":      `not found`,
		"/v1/nosuchroute": `{}`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/v1/jobs/x" {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusNotFound)
		}
		io.WriteString(w, bodies[r.URL.Path])
	}))
	t.Cleanup(srv.Close)
	v := New(t)
	for path := range bodies {
		resp, err := v.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(resp.Body)
		resp.Body.Close()
		errs := v.Take()
		if len(errs) == 0 {
			t.Errorf("GET %s answering %s: not caught", path, bodies[path])
		}
		t.Logf("GET %s: %s", path, strings.Join(errs, "; "))
	}
}
