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
// fetch site as given ("" leaves a header out), without a page key.
func browserReq(t *testing.T, srv *api.Server, method, path string, cookie *http.Cookie, host, origin, site string) (int, string) {
	t.Helper()
	return keyedReq(t, srv, method, path, session{cookie: cookie}, host, origin, site)
}

// session is a dashboard session's credentials: its cookie and page key.
type session struct {
	cookie *http.Cookie
	key    string
}

// keyedReq is browserReq with a session's cookie and page key (each left
// out when empty).
func keyedReq(t *testing.T, srv *api.Server, method, path string, s session, host, origin, site string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+srv.Addr()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.cookie != nil {
		req.AddCookie(s.cookie)
	}
	if s.key != "" {
		req.Header.Set(api.KeyHeader, s.key)
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

// login turns a one-time URL into the session cookie it sets and the page
// key it hands the page in the URL's fragment.
func login(t *testing.T, loginURL string) session {
	t.Helper()
	resp, err := noRedirects.Get(loginURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	refresh := resp.Header.Get("Refresh")
	_, key, ok := strings.Cut(refresh, "url=/dashboard/#k=")
	if resp.StatusCode != http.StatusOK || !ok || len(key) != 64 || strings.Trim(key, "0123456789abcdef") != "" {
		t.Fatalf("login: status %d, Refresh %q; want 200 sending the browser on to /dashboard/#k=<64 hex digits>", resp.StatusCode, refresh)
	}
	if !strings.Contains(string(body), `href="/dashboard/#k=`+key+`"`) || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("login page (Cache-Control %q): want no-store and a link on with the key:\n%s", resp.Header.Get("Cache-Control"), body)
	}
	cs := resp.Cookies()
	if len(cs) != 1 {
		t.Fatalf("login set %d cookies, want 1", len(cs))
	}
	if cs[0].Value == key {
		t.Fatal("the page key is the cookie's value")
	}
	return session{cookie: cs[0], key: key}
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
	sess := login(t, u)
	cookie := sess.cookie
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
		if code, body := keyedReq(t, srv, "GET", "/v1/info", sess, host, "", "same-origin"); code != http.StatusOK {
			t.Fatalf("the API with the cookie and key (host %q): %d %q", host, code, body)
		}
	}
	// A cookie is no API token: it gets no login code, a forged one nothing.
	if code, _ := keyedReq(t, srv, "POST", "/v1/dashboard/login", sess, "", "http://"+srv.Addr(), "same-origin"); code != http.StatusUnauthorized {
		t.Fatalf("a login code with the cookie alone: %d, want 401", code)
	}
	forged := &http.Cookie{Name: cookie.Name, Value: strings.Repeat("0", 64)}
	if code, _ := keyedReq(t, srv, "GET", "/v1/info", session{forged, sess.key}, "", "", ""); code != http.StatusUnauthorized {
		t.Fatalf("a forged cookie: %d, want 401", code)
	}
}

// A valid cookie, even with its page key, is refused from another host
// (DNS rebinding), from another site, and on a state-changing request from
// another origin (a page on another port of 127.0.0.1 gets the cookie:
// cookies ignore ports); nothing is done.
func TestDashboardSessionChecksHostAndOrigin(t *testing.T) {
	t.Parallel()
	srv, b, c := dashboardServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u, err := c.DashboardLogin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sess := login(t, u)
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
		code, body := keyedReq(t, srv, r.method, r.path, sess, r.host, r.origin, r.site)
		var e api.Error
		if code != http.StatusForbidden || json.Unmarshal([]byte(body), &e) != nil || e.Code != api.CodeForbidden {
			t.Errorf("%s: %d %q; want 403 forbidden", r.name, code, body)
		}
	}
	if b.drained.Load() || b.cancelled.Load() != 0 {
		t.Fatalf("refused requests acted: drained %v, cancels %d", b.drained.Load(), b.cancelled.Load())
	}
	// The dashboard's own request is served.
	if code, body := keyedReq(t, srv, "POST", "/v1/drain", sess, "", self, "same-origin"); code != http.StatusAccepted || !b.drained.Load() {
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

// unauthorized reports whether an answer is 401 with the API's error
// shape and code unauthorized.
func unauthorized(code int, body string) bool {
	var e api.Error
	return code == http.StatusUnauthorized && json.Unmarshal([]byte(body), &e) == nil && e.Code == api.CodeUnauthorized
}

// A session's cookie works on the API only with its own page key: the
// cookie alone (what a server on another local port receives from the
// browser, replayed with the right Host and Origin), a wrong key, or
// another session's key get 401 and nothing done. The pages, which hold
// no data, need the cookie alone.
func TestDashboardSessionNeedsItsPageKey(t *testing.T) {
	t.Parallel()
	srv, b, c := dashboardServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var s [2]session
	for i := range s {
		u, err := c.DashboardLogin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		s[i] = login(t, u)
	}
	self := "http://" + srv.Addr()
	refused := []struct {
		name string
		s    session
	}{
		{"the cookie alone", session{cookie: s[0].cookie}},
		{"a wrong key", session{s[0].cookie, strings.Repeat("ab", 32)}},
		{"the key of another session", session{s[0].cookie, s[1].key}},
		{"the key alone", session{key: s[0].key}},
	}
	for _, r := range refused {
		for _, req := range []struct{ method, path string }{{"GET", "/v1/info"}, {"POST", "/v1/drain"}, {"POST", "/v1/jobs/x/cancel"}} {
			if code, body := keyedReq(t, srv, req.method, req.path, r.s, "", self, "same-origin"); !unauthorized(code, body) {
				t.Errorf("%s: %s %s: %d %q; want 401 unauthorized", r.name, req.method, req.path, code, body)
			}
		}
	}
	if b.drained.Load() || b.cancelled.Load() != 0 {
		t.Fatalf("requests without the right key acted: drained %v, cancels %d", b.drained.Load(), b.cancelled.Load())
	}
	if code, body := keyedReq(t, srv, "GET", "/dashboard/jobs", session{cookie: s[0].cookie}, "", "", "same-origin"); code != http.StatusOK || body != "PAGE /dashboard/jobs" {
		t.Fatalf("a page with the cookie alone: %d %q", code, body)
	}
	for i := range s {
		if code, body := keyedReq(t, srv, "GET", "/v1/info", s[i], "", "", "same-origin"); code != http.StatusOK {
			t.Fatalf("session %d with its own key: %d %q", i, code, body)
		}
	}
	if code, body := keyedReq(t, srv, "POST", "/v1/drain", s[0], "", self, "same-origin"); code != http.StatusAccepted || !b.drained.Load() {
		t.Fatalf("a drain with the cookie and its key: %d %q, drained %v", code, body, b.drained.Load())
	}
}

// Logging out (POST /v1/dashboard/logout, with the cookie and its key from
// the dashboard's origin) ends the session on the node and clears the
// cookie: the cookie and key then get nothing; another session lives on.
func TestDashboardLogout(t *testing.T) {
	t.Parallel()
	srv, _, c := dashboardServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var s [2]session
	for i := range s {
		u, err := c.DashboardLogin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		s[i] = login(t, u)
	}
	self := "http://" + srv.Addr()
	if code, body := keyedReq(t, srv, "POST", "/v1/dashboard/logout", session{cookie: s[0].cookie}, "", self, "same-origin"); !unauthorized(code, body) {
		t.Fatalf("a logout with the cookie alone: %d %q; want 401", code, body)
	}
	if code, body := keyedReq(t, srv, "POST", "/v1/dashboard/logout", s[0], "", "http://127.0.0.1:1", "same-site"); code != http.StatusForbidden {
		t.Fatalf("a logout from another origin: %d %q; want 403", code, body)
	}
	if code, body := keyedReq(t, srv, "GET", "/v1/info", s[0], "", "", "same-origin"); code != http.StatusOK {
		t.Fatalf("the session after refused logouts: %d %q", code, body)
	}
	req, err := http.NewRequest("POST", self+"/v1/dashboard/logout", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.AddCookie(s[0].cookie)
	req.Header.Set(api.KeyHeader, s[0].key)
	req.Header.Set("Origin", self)
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cs := resp.Cookies()
	if resp.StatusCode != http.StatusNoContent || len(cs) != 1 || cs[0].Name != s[0].cookie.Name || cs[0].MaxAge >= 0 || cs[0].Value != "" {
		t.Fatalf("logout: %d, cookies %v; want 204 clearing %s", resp.StatusCode, cs, s[0].cookie.Name)
	}
	for _, r := range []struct{ method, path string }{{"GET", "/v1/info"}, {"POST", "/v1/drain"}, {"POST", "/v1/dashboard/logout"}} {
		if code, body := keyedReq(t, srv, r.method, r.path, s[0], "", self, "same-origin"); !unauthorized(code, body) {
			t.Errorf("after logout, %s %s with the cookie and key: %d %q; want 401", r.method, r.path, code, body)
		}
	}
	if code, body := keyedReq(t, srv, "GET", "/dashboard/jobs", s[0], "", "", "same-origin"); code != http.StatusUnauthorized || !strings.Contains(body, "meshnode dashboard") {
		t.Errorf("after logout, a page: %d %q; want 401 naming meshnode dashboard", code, body)
	}
	if code, body := keyedReq(t, srv, "GET", "/v1/info", s[1], "", "", "same-origin"); code != http.StatusOK {
		t.Fatalf("another session after a logout: %d %q", code, body)
	}
}

// A page on another port can set cookies of the session's name (cookies
// ignore ports), which the browser sends before the real one when their
// Path is longer: the node looks at every cookie of that name, so junk
// ones lock no one out, and grant nothing.
func TestDashboardTossedCookiesLockNoOneOut(t *testing.T) {
	t.Parallel()
	srv, b, c := dashboardServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u, err := c.DashboardLogin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s := login(t, u)
	self := "http://" + srv.Addr()
	req, err := http.NewRequest(http.MethodPost, self+"/v1/drain", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Cookie", s.cookie.Name+"=junk; "+s.cookie.Name+"="+s.cookie.Value+"; "+s.cookie.Name+"=more-junk")
	req.Header.Set(api.KeyHeader, s.key)
	req.Header.Set("Origin", self)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || !b.drained.Load() {
		t.Fatalf("the real cookie after a tossed one: %d, drained %v; want 202", resp.StatusCode, b.drained.Load())
	}
	junk := &http.Cookie{Name: s.cookie.Name, Value: "junk"}
	if code, body := keyedReq(t, srv, "GET", "/v1/info", session{junk, s.key}, "", "", "same-origin"); !unauthorized(code, body) {
		t.Fatalf("a tossed cookie with the real key: %d %q; want 401", code, body)
	}
}
