package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/computemesh/computemesh/api"
)

// drainBackend records what a request made the node do.
type drainBackend struct {
	*fakeBackend
	drained   atomic.Bool
	cancelled atomic.Int32
}

func (b *drainBackend) Drain()              { b.drained.Store(true) }
func (b *drainBackend) Cancel(string) error { b.cancelled.Add(1); return nil }

// dashboardServer starts an API with a stub dashboard and returns it, its
// backend and a client holding its token.
func dashboardServer(t *testing.T) (*api.Server, *drainBackend, *api.Client) {
	t.Helper()
	dir := t.TempDir()
	b := &drainBackend{fakeBackend: filledBackend()}
	pages := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "PAGE "+r.URL.Path) })
	srv, err := api.Listen("127.0.0.1:0", dir, b, nil, api.Pages(pages))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	c, err := api.Dial(dir)
	if err != nil {
		t.Fatal(err)
	}
	return srv, b, c
}

// browserReq sends a request as a browser would: cookie, host, origin and
// fetch site as given ("" leaves a header out).
func browserReq(t *testing.T, srv *api.Server, method, path string, cookie *http.Cookie, host, origin, site string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+srv.Addr()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	if host != "" {
		req.Host = host
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if site != "" {
		req.Header.Set("Sec-Fetch-Site", site)
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// login turns a one-time URL into the session cookie it sets.
func login(t *testing.T, loginURL string) *http.Cookie {
	t.Helper()
	resp, err := noRedirects.Get(loginURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Refresh"), "url=/dashboard/") {
		t.Fatalf("login: status %d, Refresh %q; want 200 sending the browser on to /dashboard/", resp.StatusCode, resp.Header.Get("Refresh"))
	}
	cs := resp.Cookies()
	if len(cs) != 1 {
		t.Fatalf("login set %d cookies, want 1", len(cs))
	}
	return cs[0]
}

func TestDashboardLoginMakesAStrictHttpOnlyCookie(t *testing.T) {
	t.Parallel()
	srv, _, c := dashboardServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// Without credentials: pages say how to log in, the API refuses.
	if code, body := browserReq(t, srv, "GET", "/dashboard/jobs", nil, "", "", ""); code != http.StatusUnauthorized || !strings.Contains(body, "meshnode dashboard") {
		t.Fatalf("a page without a cookie: %d %q; want 401 naming meshnode dashboard", code, body)
	}
	code, body := browserReq(t, srv, "GET", "/v1/info", nil, "", "", "")
	var e api.Error
	if code != http.StatusUnauthorized || json.Unmarshal([]byte(body), &e) != nil || e.Code != api.CodeUnauthorized {
		t.Fatalf("the API without a cookie: %d %q; want 401 unauthorized", code, body)
	}
	if code, _ := browserReq(t, srv, "POST", "/v1/dashboard/login", nil, "", "", ""); code != http.StatusUnauthorized {
		t.Fatalf("a login code without the token: %d, want 401", code)
	}

	u, err := c.DashboardLogin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := url.Parse(u)
	if err != nil || parsed.Host != srv.Addr() || parsed.Path != "/dashboard/login" || len(parsed.Query().Get("code")) != 64 {
		t.Fatalf("login URL %q: want http://%s/dashboard/login?code=<64 hex digits>", u, srv.Addr())
	}
	cookie := login(t, u)
	if !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" || cookie.Domain != "" || len(cookie.Value) != 64 {
		t.Fatalf("cookie %+v: want HttpOnly, SameSite=Strict, Path=/, no Domain, a 32-byte random value", cookie)
	}

	// The code is good once.
	resp, err := noRedirects.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
		t.Fatalf("the same code again: %d with %d cookies, want 401 and none", resp.StatusCode, len(resp.Cookies()))
	}
	if code, _ := browserReq(t, srv, "GET", "/dashboard/login?code=00", nil, "", "", ""); code != http.StatusUnauthorized {
		t.Fatalf("a made-up code: %d, want 401", code)
	}
	// A link followed from another site logs in (the code is the check),
	// but not at another host name.
	u2, err := c.DashboardLogin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	port := srv.Addr()[strings.LastIndex(srv.Addr(), ":")+1:]
	if code, body := browserReq(t, srv, "GET", strings.TrimPrefix(u2, "http://"+srv.Addr()), nil, "evil.example:"+port, "", ""); code != http.StatusForbidden {
		t.Fatalf("a login link at a rebound host name: %d %q, want 403", code, body)
	}
	if code, body := browserReq(t, srv, "GET", strings.TrimPrefix(u2, "http://"+srv.Addr()), nil, "", "", "cross-site"); code != http.StatusOK {
		t.Fatalf("a login link followed from another site: %d %q, want 200", code, body)
	}

	// With the cookie: pages and the API, at either name of the address.
	for _, host := range []string{"", "localhost:" + port} {
		if code, body := browserReq(t, srv, "GET", "/dashboard/jobs", cookie, host, "", "same-origin"); code != http.StatusOK || body != "PAGE /dashboard/jobs" {
			t.Fatalf("a page with the cookie (host %q): %d %q", host, code, body)
		}
		if code, body := browserReq(t, srv, "GET", "/v1/info", cookie, host, "", "same-origin"); code != http.StatusOK {
			t.Fatalf("the API with the cookie (host %q): %d %q", host, code, body)
		}
	}
	// A cookie is no API token: it gets no login code, a forged one nothing.
	if code, _ := browserReq(t, srv, "POST", "/v1/dashboard/login", cookie, "", "http://"+srv.Addr(), "same-origin"); code != http.StatusUnauthorized {
		t.Fatalf("a login code with the cookie alone: %d, want 401", code)
	}
	forged := &http.Cookie{Name: cookie.Name, Value: strings.Repeat("0", 64)}
	if code, _ := browserReq(t, srv, "GET", "/v1/info", forged, "", "", ""); code != http.StatusUnauthorized {
		t.Fatalf("a forged cookie: %d, want 401", code)
	}
}

// A valid cookie is refused from another host (DNS rebinding), from
// another site, and on a state-changing request from another origin (a
// page on another port of 127.0.0.1 gets the cookie: cookies ignore
// ports); nothing is done.
func TestDashboardSessionChecksHostAndOrigin(t *testing.T) {
	t.Parallel()
	srv, b, c := dashboardServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u, err := c.DashboardLogin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cookie := login(t, u)
	self := "http://" + srv.Addr()
	port := srv.Addr()[strings.LastIndex(srv.Addr(), ":")+1:]
	other := "http://127.0.0.1:1" // a page on another port
	refused := []struct {
		name, method, path, host, origin, site string
	}{
		{"a rebound DNS name", "GET", "/v1/info", "evil.example:" + port, "", ""},
		{"a rebound DNS name, a page", "GET", "/dashboard/", "evil.example:" + port, "", ""},
		{"another port as host", "GET", "/v1/info", "127.0.0.1:1", "", ""},
		{"a GET from another origin", "GET", "/v1/jobs", "", other, "same-site"},
		{"a drain without an origin", "POST", "/v1/drain", "", "", ""},
		{"a drain from another port", "POST", "/v1/drain", "", other, ""},
		{"a drain from another port, as a browser says it", "POST", "/v1/drain", "", other, "same-site"},
		{"a drain from another site with the right origin", "POST", "/v1/drain", "", self, "cross-site"},
		{"a drain from a rebound name", "POST", "/v1/drain", "evil.example:" + port, "http://evil.example:" + port, "same-origin"},
		{"a cancel from another port", "POST", "/v1/jobs/x/cancel", "", other, "same-site"},
		{"a submit from another port", "POST", "/v1/jobs", "", other, "same-site"},
		{"a null origin", "POST", "/v1/drain", "", "null", ""},
	}
	for _, r := range refused {
		code, body := browserReq(t, srv, r.method, r.path, cookie, r.host, r.origin, r.site)
		var e api.Error
		if code != http.StatusForbidden || json.Unmarshal([]byte(body), &e) != nil || e.Code != api.CodeForbidden {
			t.Errorf("%s: %d %q; want 403 forbidden", r.name, code, body)
		}
	}
	if b.drained.Load() || b.cancelled.Load() != 0 {
		t.Fatalf("refused requests acted: drained %v, cancels %d", b.drained.Load(), b.cancelled.Load())
	}
	// The dashboard's own request is served.
	if code, body := browserReq(t, srv, "POST", "/v1/drain", cookie, "", self, "same-origin"); code != http.StatusAccepted || !b.drained.Load() {
		t.Fatalf("a drain from the dashboard's origin: %d %q, drained %v", code, body, b.drained.Load())
	}
}

// The dashboard's pages and login exist only with Pages.
func TestNoDashboardWithoutPages(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv, err := api.Listen("127.0.0.1:0", dir, filledBackend(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	c, err := api.Dial(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.DashboardLogin(ctx); err == nil {
		t.Fatal("a login code from an API without the dashboard")
	}
	if code, _ := browserReq(t, srv, "GET", "/dashboard/", nil, "", "", ""); code != http.StatusUnauthorized {
		t.Fatalf("/dashboard/ without the dashboard or a token: %d, want 401", code)
	}
}
