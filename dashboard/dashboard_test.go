package dashboard_test

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/dashboard"
)

func get(t *testing.T, h http.Handler, method, path string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	resp := rec.Result()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// Every page path answers the one page, files come with their types, and
// everything carries the policy that keeps the page to its own origin.
func TestHandlerServesPagesAndFiles(t *testing.T) {
	h := dashboard.Handler()
	for _, p := range []string{"/dashboard/", "/dashboard/jobs", "/dashboard/jobs/bagaaiera123", "/dashboard/credits"} {
		resp, body := get(t, h, http.MethodGet, p)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, `<script type="module" src="/dashboard/static/app.js">`) {
			t.Fatalf("%s: %d, not the page:\n%s", p, resp.StatusCode, body)
		}
		if resp.Header.Get("Content-Security-Policy") != dashboard.Policy || resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Fatalf("%s: headers %v", p, resp.Header)
		}
	}
	for file, mime := range map[string]string{"app.js": "text/javascript", "style.css": "text/css", "map.js": "text/javascript"} {
		resp, body := get(t, h, http.MethodGet, "/dashboard/static/"+file)
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), mime) || body == "" {
			t.Fatalf("%s: %d %q", file, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	if resp, _ := get(t, h, http.MethodPost, "/dashboard/"); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /dashboard/: %d, want 405", resp.StatusCode)
	}
	if resp, _ := get(t, h, http.MethodGet, "/dashboard/static/nothing.js"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("a missing file: %d, want 404", resp.StatusCode)
	}
}

// The assets fetch nothing from elsewhere (no URL but the SVG namespace)
// and never parse text as HTML (a peer's strings go in as text).
func TestAssetsStayLocal(t *testing.T) {
	url := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
	err := fs.WalkDir(os.DirFS("static"), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(filepath.Join("static", path))
		if err != nil {
			return err
		}
		for _, m := range url.FindAllString(string(b), -1) {
			if m != "http://www.w3.org" {
				t.Errorf("%s names %s: the dashboard fetches nothing from outside the node", path, m)
			}
		}
		for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
			if strings.Contains(string(b), bad) {
				t.Errorf("%s uses %s: build elements with h() and text", path, bad)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Every API call carries the session's page key: the pages fetch only
// through core.js's request, which sends it, and link to no API route (a
// link or a form would carry the cookie alone, which the API refuses).
func TestAPICallsCarryTheKey(t *testing.T) {
	fetches := 0
	err := fs.WalkDir(os.DirFS("static"), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(filepath.Join("static", path))
		if err != nil {
			return err
		}
		src := string(b)
		for _, bad := range []string{"XMLHttpRequest", "EventSource", "sendBeacon", "<form", "action:"} {
			if strings.Contains(src, bad) {
				t.Errorf("%s uses %s: call the API through core.js (api, lines, apiHead, download)", path, bad)
			}
		}
		if regexp.MustCompile(`(href|src):\s*[^,}]*/v1/`).MatchString(src) {
			t.Errorf("%s links to an API route: fetch it with download() instead", path)
		}
		if n := strings.Count(src, "fetch("); n > 0 && path != "core.js" {
			t.Errorf("%s calls fetch: call the API through core.js, which sends the page key", path)
		} else {
			fetches += n
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	core, err := os.ReadFile(filepath.Join("static", "core.js"))
	if err != nil {
		t.Fatal(err)
	}
	if fetches != 1 || !strings.Contains(string(core), "init.headers['"+api.KeyHeader+"'] = key") {
		t.Fatalf("core.js: %d calls of fetch; want one, in request, which sets %s", fetches, api.KeyHeader)
	}
}
