package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The dashboard's browser sessions. `meshnode dashboard` asks the node,
// with the API token, for a one-time login URL (POST /v1/dashboard/login);
// opening it (GET /dashboard/login?code=...) turns the code into an
// HttpOnly, SameSite=Strict session cookie. A request with the cookie is
// accepted only when its Host is the API's own address (DNS rebinding), it
// does not come from another site (Sec-Fetch-Site), and, when it is not a
// GET or HEAD, its Origin is the API's own (a page on another port of
// 127.0.0.1 is same-site: the browser sends it the cookie, cookies ignore
// ports).
const (
	LoginCodeTTL  = 2 * time.Minute // a login code is good once, for this long
	SessionTTL    = 12 * time.Hour  // a browser session lasts this long from its login
	maxLoginCodes = 16              // unused codes kept; more evict the oldest
	maxSessions   = 64              // sessions kept; more evict the oldest
)

// Login is the answer to POST /v1/dashboard/login: a URL that logs a
// browser into the dashboard, once, within LoginCodeTTL.
type Login struct {
	URL string `json:"url"`
}

// Option configures a Server (see Listen).
type Option func(*Server)

// Pages serves h, the dashboard, under /dashboard/ behind the API's auth:
// the API token, or a browser session started with a one-time login code.
// Without it the API has no sessions.
func Pages(h http.Handler) Option {
	return func(s *Server) { s.sessions = &sessions{pages: h, now: time.Now} }
}

// sessions are a server's login codes and browser sessions, in memory
// only: a restarted node forgets them. They are kept by the SHA-256 of
// their secret, so that nothing compares secrets byte by byte.
type sessions struct {
	pages  http.Handler
	now    func() time.Time
	cookie string // the cookie's name, with the API's port: cookies ignore ports
	hosts  []string

	mu    sync.Mutex
	codes map[[32]byte]time.Time // login code → expiry
	live  map[[32]byte]time.Time // session ID → expiry
}

// routeDashboard adds the dashboard's routes to mux (none without Pages).
func (s *Server) routeDashboard(mux interface {
	Handle(pattern string, h http.Handler)
	HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request))
}) {
	d := s.sessions
	if d == nil {
		return
	}
	addr := s.ln.Addr().(*net.TCPAddr)
	d.cookie = fmt.Sprintf("meshnode_session_%d", addr.Port)
	d.hosts = []string{addr.String(), fmt.Sprintf("localhost:%d", addr.Port)}
	d.codes, d.live = map[[32]byte]time.Time{}, map[[32]byte]time.Time{}
	mux.HandleFunc("POST /v1/dashboard/login", func(w http.ResponseWriter, r *http.Request) {
		code, err := d.issue(d.codes, LoginCodeTTL, maxLoginCodes)
		if err != nil {
			writeError(w, CodeUpstream, "%v", err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(Login{URL: "http://" + d.hosts[0] + "/dashboard/login?code=" + code})
	})
	mux.HandleFunc("GET /dashboard/login", d.login)
	mux.Handle("/dashboard/", d.pages)
}

// issue adds a new random secret to set, valid for ttl, and returns it.
func (d *sessions) issue(set map[[32]byte]time.Time, ttl time.Duration, most int) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("dashboard: a random secret: %w", err)
	}
	secret := hex.EncodeToString(b)
	now := d.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	for k, exp := range set {
		if !now.Before(exp) {
			delete(set, k)
		}
	}
	for len(set) >= most {
		var oldest [32]byte
		first := true
		for k, exp := range set {
			if first || exp.Before(set[oldest]) {
				oldest, first = k, false
			}
		}
		delete(set, oldest)
	}
	set[sha256.Sum256([]byte(secret))] = now.Add(ttl)
	return secret, nil
}

// valid reports whether secret is in set and unexpired; with once, it is
// used up.
func (d *sessions) valid(set map[[32]byte]time.Time, secret string, once bool) bool {
	if secret == "" {
		return false
	}
	k := sha256.Sum256([]byte(secret))
	d.mu.Lock()
	defer d.mu.Unlock()
	exp, ok := set[k]
	if once || (ok && !d.now().Before(exp)) {
		delete(set, k)
	}
	return ok && d.now().Before(exp)
}

// login turns a valid one-time code into a session cookie, then sends the
// browser on to the dashboard (from a page of its own origin, so that the
// SameSite=Strict cookie goes along even when the link was followed from
// another site: the code, not the site, is what a login is checked by).
func (d *sessions) login(w http.ResponseWriter, r *http.Request) {
	if why := d.foreignHost(r); why != "" {
		writeError(w, CodeForbidden, "%s", why)
		return
	}
	if !d.valid(d.codes, r.URL.Query().Get("code"), true) {
		d.page(w, http.StatusUnauthorized, "This login link was used already or has expired",
			"A link logs in once, within 2 minutes. Run <code>meshnode dashboard</code> for a new one.")
		return
	}
	id, err := d.issue(d.live, SessionTTL, maxSessions)
	if err != nil {
		writeError(w, CodeUpstream, "%v", err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: d.cookie, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
	w.Header().Set("Refresh", "0; url=/dashboard/")
	d.page(w, http.StatusOK, "Logged in", `Go on to <a href="/dashboard/">the dashboard</a>.`)
}

// serve answers r, which has no valid API token, when it is the
// dashboard's: a login, or a request with a session cookie (checked:
// host, site, origin). It reports false, answering nothing, for an API
// request without a session: the caller refuses it.
func (d *sessions) serve(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
	if d == nil {
		return false
	}
	page := r.URL.Path == "/dashboard" || strings.HasPrefix(r.URL.Path, "/dashboard/")
	if r.URL.Path == "/dashboard/login" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		next.ServeHTTP(w, r)
		return true
	}
	c, err := r.Cookie(d.cookie)
	if err != nil || !d.valid(d.live, c.Value, false) || r.URL.Path == "/v1/dashboard/login" {
		if !page {
			return false
		}
		d.page(w, http.StatusUnauthorized, "Not logged in",
			"Run <code>meshnode dashboard</code> (with the node's <code>--data-dir</code>) on this machine: it prints a one-time login link.")
		return true
	}
	if why := d.refuse(r); why != "" {
		writeError(w, CodeForbidden, "%s", why)
		return true
	}
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	next.ServeHTTP(w, r)
	return true
}

// refuse says why a browser's request must not be served ("" when it may
// be): a Host other than the API's own address (a DNS name rebound to
// 127.0.0.1), a request from another site, or a state-changing request
// (or a CORS one) whose Origin is not the API's own.
func (d *sessions) refuse(r *http.Request) string {
	if why := d.foreignHost(r); why != "" {
		return why
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" || site == "same-site" {
		return "a request from another site (a page on another port is one): refused"
	}
	origin := r.Header.Get("Origin")
	safe := r.Method == http.MethodGet || r.Method == http.MethodHead
	if (!safe || origin != "") && origin != "http://"+r.Host {
		return fmt.Sprintf("origin %q is not this node's API: refused", origin)
	}
	return ""
}

// foreignHost says why r's Host is not the API's own address ("" when it
// is): a DNS name rebound to 127.0.0.1, or another port.
func (d *sessions) foreignHost(r *http.Request) string {
	for _, h := range d.hosts {
		if r.Host == h {
			return ""
		}
	}
	return fmt.Sprintf("host %q is not this node's API (open http://%s/dashboard/)", r.Host, d.hosts[0])
}

// page answers with a short HTML page (title and body are trusted HTML).
func (d *sessions) page(w http.ResponseWriter, status int, title, body string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!doctype html><meta charset=utf-8><title>%s — meshnode</title><h1>%s</h1><p>%s</p>\n",
		html.EscapeString(title), html.EscapeString(title), body)
}

// DashboardLogin asks the node for a one-time dashboard login URL.
func (c *Client) DashboardLogin(ctx context.Context) (string, error) {
	l, err := call[Login](ctx, c, "/v1/dashboard/login", struct{}{})
	if err != nil {
		return "", fmt.Errorf("dashboard login: %w", err)
	}
	return l.URL, nil
}
