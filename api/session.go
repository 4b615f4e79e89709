package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
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
// HttpOnly, SameSite=Strict session cookie and a page key, handed to the
// page in the URL's fragment (never sent to a server). An API request with
// the cookie is accepted only with the session's key in KeyHeader (cookies
// ignore ports: a server on another port of 127.0.0.1 that the browser
// visits receives the cookie, but only the dashboard's own origin holds
// the key), when its Host is the API's own address (DNS rebinding), it
// does not come from another site (Sec-Fetch-Site), and, when it is not a
// GET or HEAD, its Origin is the API's own.
const (
	LoginCodeTTL  = 2 * time.Minute // a login code is good once, for this long
	SessionTTL    = 12 * time.Hour  // a browser session lasts this long from its login
	maxLoginCodes = 16              // unused codes kept; more evict the oldest
	maxSessions   = 64              // sessions kept; more evict the oldest
)

// KeyHeader carries a dashboard session's page key: every API request
// made with the session's cookie must carry it too (the pages under
// /dashboard/, which hold no data, need the cookie alone).
const KeyHeader = "X-Meshnode-Key"

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
	codes map[[32]byte]entry // by login code
	live  map[[32]byte]entry // by session ID (the cookie's value)
}

// entry is a login code or a session.
type entry struct {
	exp time.Time
	key [32]byte // a session's page key, by its SHA-256 (none for a code)
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
	d.codes, d.live = map[[32]byte]entry{}, map[[32]byte]entry{}
	mux.HandleFunc("POST /v1/dashboard/login", func(w http.ResponseWriter, r *http.Request) {
		code, err := d.issue(d.codes, LoginCodeTTL, maxLoginCodes, [32]byte{})
		if err != nil {
			writeError(w, CodeUpstream, "%v", err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(Login{URL: "http://" + d.hosts[0] + "/dashboard/login?code=" + code})
	})
	mux.HandleFunc("POST /v1/dashboard/logout", d.logout)
	mux.HandleFunc("GET /dashboard/login", d.login)
	mux.Handle("/dashboard/", d.pages)
}

// randomHex is 32 random bytes in hex.
func randomHex() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("dashboard: a random secret: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// issue adds a new random secret to set, valid for ttl (a session's with
// the SHA-256 of its page key), and returns it.
func (d *sessions) issue(set map[[32]byte]entry, ttl time.Duration, most int, key [32]byte) (string, error) {
	secret, err := randomHex()
	if err != nil {
		return "", err
	}
	now := d.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	for k, e := range set {
		if !now.Before(e.exp) {
			delete(set, k)
		}
	}
	for len(set) >= most {
		var oldest [32]byte
		first := true
		for k, e := range set {
			if first || e.exp.Before(set[oldest].exp) {
				oldest, first = k, false
			}
		}
		delete(set, oldest)
	}
	set[sha256.Sum256([]byte(secret))] = entry{exp: now.Add(ttl), key: key}
	return secret, nil
}

// valid reports whether secret is in set and unexpired; with once, it is
// used up.
func (d *sessions) valid(set map[[32]byte]entry, secret string, once bool) bool {
	_, ok := d.lookup(set, secret, once)
	return ok
}

// lookup returns secret's entry in set when it is there and unexpired;
// with once, it is used up.
func (d *sessions) lookup(set map[[32]byte]entry, secret string, once bool) (entry, bool) {
	if secret == "" {
		return entry{}, false
	}
	k := sha256.Sum256([]byte(secret))
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := set[k]
	live := ok && d.now().Before(e.exp)
	if once || (ok && !live) {
		delete(set, k)
	}
	return e, live
}

// session reports whether id is a live session, and whether key is its
// page key (compared by SHA-256, in constant time).
func (d *sessions) session(id, key string) (live, keyed bool) {
	e, live := d.lookup(d.live, id, false)
	if !live || key == "" {
		return live, false
	}
	h := sha256.Sum256([]byte(key))
	return true, subtle.ConstantTimeCompare(h[:], e.key[:]) == 1
}

// sessionOf finds r's session among every cookie of the session's name
// it carries: a page on another port may have set cookies of that name
// (cookies ignore ports) with a longer Path, which browsers send first;
// taking the first would lock the owner out. It reports whether one is
// live, and whether one is live and keyed by r's page key.
func (d *sessions) sessionOf(r *http.Request) (live, keyed bool) {
	key := r.Header.Get(KeyHeader)
	for _, c := range r.CookiesNamed(d.cookie) {
		l, k := d.session(c.Value, key)
		live = live || l
		if k {
			return true, true
		}
	}
	return live, false
}

// logout ends the session of the request's cookie (reached only with its
// page key, or with the API token) and clears the cookie.
func (d *sessions) logout(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get(KeyHeader)
	for _, c := range r.CookiesNamed(d.cookie) {
		if _, keyed := d.session(c.Value, key); keyed || key == "" { // the keyed one (the API token: any)
			k := sha256.Sum256([]byte(c.Value))
			d.mu.Lock()
			delete(d.live, k)
			d.mu.Unlock()
		}
	}
	http.SetCookie(w, &http.Cookie{Name: d.cookie, Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

// login turns a valid one-time code into a session cookie and a page key,
// then sends the browser on to the dashboard with the key in the URL's
// fragment (which browsers send to no server, nor in a Referer), from a
// page of its own origin, so that the SameSite=Strict cookie goes along
// even when the link was followed from another site: the code, not the
// site, is what a login is checked by. The node keeps only the key's
// SHA-256.
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
	key, err := randomHex()
	if err != nil {
		writeError(w, CodeUpstream, "%v", err)
		return
	}
	id, err := d.issue(d.live, SessionTTL, maxSessions, sha256.Sum256([]byte(key)))
	if err != nil {
		writeError(w, CodeUpstream, "%v", err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: d.cookie, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
	next := "/dashboard/#k=" + key // hex: safe in a header and in HTML
	w.Header().Set("Refresh", "0; url="+next)
	d.page(w, http.StatusOK, "Logged in", `Go on to <a href="`+next+`">the dashboard</a>.`)
}

// serve answers r, which has no valid API token, when it is the
// dashboard's: a login, or a request with a session cookie (checked: the
// page key for all but the pages, host, site, origin). It reports false,
// answering nothing, for an API request without a session: the caller
// refuses it.
func (d *sessions) serve(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
	if d == nil {
		return false
	}
	page := r.URL.Path == "/dashboard" || strings.HasPrefix(r.URL.Path, "/dashboard/")
	if r.URL.Path == "/dashboard/login" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		next.ServeHTTP(w, r)
		return true
	}
	live, keyed := d.sessionOf(r)
	if !live || r.URL.Path == "/v1/dashboard/login" {
		if !page {
			return false
		}
		d.page(w, http.StatusUnauthorized, "Not logged in",
			"Run <code>meshnode dashboard</code> (with the node's <code>--data-dir</code>) on this machine: it prints a one-time login link.")
		return true
	}
	if !page && !keyed { // the cookie alone: a server on another port may have it
		writeError(w, CodeUnauthorized, "a dashboard session's cookie without its page key (%s missing or wrong): "+
			"log in again with meshnode dashboard", KeyHeader)
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
	w.Header().Set("Referrer-Policy", "no-referrer")
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
