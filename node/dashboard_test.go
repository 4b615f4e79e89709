package node

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/job"
)

// dashboardMesh starts two providers that run jobs (eu-west at 0.5, the
// cheapest, and ap-south at 0.7) and the dashboard's node: a provider too
// (us-east, which never bids on its own jobs), with a data dir and the API.
func dashboardMesh(t *testing.T, dataDir string) (d, runner *Node) {
	t.Helper()
	ctx := context.Background()
	start := func(cfg Config) *Node {
		cfg.Mode, cfg.Network, cfg.Hardware = ModeProvider, "dashboardtest", testHardware(t)
		cfg.Capacity = job.Resources{CPUMillis: 4000, MemoryBytes: 4 << 30}
		n, err := New(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		return n
	}
	runner = start(Config{Region: "eu-west", Rates: job.Rates{CPUHour: job.Nano / 2}})
	boot := []string{runner.Mesh().Addrs()[0].String()}
	second := start(Config{Region: "ap-south", Rates: job.Rates{CPUHour: 7 * job.Nano / 10}, Bootstrap: boot})
	d = start(Config{Region: "us-east", Rates: job.Rates{CPUHour: 9 * job.Nano / 10}, Bootstrap: boot,
		DataDir: dataDir, API: "127.0.0.1:0", HeartbeatTimeout: testHeartbeatTimeout})
	awaitAnnounced(t, []*Node{runner, second, d})
	wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if err := d.Mesh().WaitProviders(wctx, 2); err != nil {
		t.Fatal(err)
	}
	return d, runner
}

// firstJob runs a job that logs "tick 1" to "tick 5" through the node's
// API and returns its record, once its receipt is in the node's ledger,
// and the receipt's amount.
func firstJob(t *testing.T, d *Node, c *api.Client) (*api.JobRecord, job.Credits) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	sub := guestSpec(t, "tick", "5")
	out, err := c.Submit(ctx, api.SubmitRequest{Spec: *sub.Spec, Module: sub.Module, BidWindowMS: 2000}, func(job.Event) {})
	if err != nil {
		t.Fatal(err)
	}
	if out.State != job.StateCompleted || !strings.Contains(string(out.Stdout), "tick 5") {
		t.Fatalf("the first job: %s, stdout %q (%s)", out.State, out.Stdout, out.Error)
	}
	rec, err := d.Job(out.Job)
	if err != nil {
		t.Fatal(err)
	}
	for {
		cr, err := c.Credits(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range cr.Receipts {
			if r.Job == out.Job && r.Payer == d.ID().String() {
				return rec, r.Amount
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no receipt for job %s in the node's ledger within 90s", out.Job)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// bidPrice is the price of a bid of the job's first round.
func bidPrice(t *testing.T, rec *api.JobRecord) job.Credits {
	t.Helper()
	for _, r := range rec.Rounds {
		for _, a := range r.Answers {
			if a.Decline == "" && a.Price > 0 {
				return a.Price
			}
		}
	}
	t.Fatalf("job %s has no bid with a price: %+v", rec.ID, rec.Rounds)
	return 0
}

// The dashboard in a real headless Chromium: a one-time login (the page
// key taken from the URL's fragment into localStorage), every page without
// console errors and with real content (the job's ID, a bid and its price,
// its log lines, its outputs downloaded, the receipt's amount), a job
// submitted from the submit page, cancel and drain from the pages, and
// logging out; and a page on another port of 127.0.0.1, which the browser
// sends the session cookie, gets the node to do nothing, nor does its
// server replaying that cookie. DASHBOARD_SCREENSHOTS=DIR saves each page.
func TestDashboardInChromium(t *testing.T) {
	chromium := chromiumPath(t)
	t.Parallel()
	dataDir := t.TempDir()
	d, runner := dashboardMesh(t, dataDir)
	c, err := api.Dial(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	rec, amount := firstJob(t, d, c)
	price := bidPrice(t, rec).String()
	base := "http://" + d.api.addr
	b := startBrowser(t, chromium)

	// No cookie: the page says how to log in.
	b.do(t, "a page before logging in", chromedp.Navigate(base+"/dashboard/jobs"))
	b.wait(t, "a page before logging in", textOf("body", "meshnode dashboard"))
	b.resetErrors() // the 401 itself
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	link, err := c.DashboardLogin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b.do(t, "the login link", chromedp.Navigate(link))
	b.wait(t, "the overview after logging in", `location.pathname === '/dashboard/' && document.body.dataset.ready === '1' && 'ready'`)
	// The key left the URL (and the history entry) for localStorage.
	b.wait(t, "the page key kept", `location.hash === '' && !location.href.includes('k=') && /^[0-9a-f]{64}$/.test(localStorage.getItem('meshnode-key') || '') && 'ok'`)

	visitPages(t, b, base, rec.ID, price, amount.String(), runner.ID().String())
	submitFromThePage(t, b, d, base)
	long := runningJob(t, d, c)
	stolen := otherOriginGetsNothing(t, b, d, long)
	key := replayedCookieGetsNothing(t, b, d, stolen, long)
	cancelAndDrain(t, b, d, base, long)
	logOut(t, b, base)
	if code, body := cookieCall(t, base, stolen, "GET", "/v1/info", key); code != http.StatusUnauthorized {
		t.Fatalf("the session's cookie and key after logging out: %d %q; want 401", code, body)
	}
}

// visitPages loads every page and checks what it shows.
func visitPages(t *testing.T, b *browser, base, id, price, amount, runner string) {
	t.Helper()
	pages := []struct{ name, path, ready string }{
		{"overview", "/dashboard/", `document.querySelector('#providers') && document.querySelector('svg.map g.region[data-region="eu-west"]') && ` +
			textOf("#rates", "cpu-core-hour")},
		{"auctions", "/dashboard/auctions", fmt.Sprintf(`document.querySelector('.auction[data-job=%s] li.winner') && %s`,
			jsString(id), textOf(`.auction[data-job="`+id+`"] li.bid .price`, price))},
		{"jobs", "/dashboard/jobs", textOf(`#jobs tr[data-job="`+id+`"]`, "completed")},
		{"job", "/dashboard/jobs/" + id, fmt.Sprintf(`%s && %s && %s && document.querySelector('button.download[data-file="ticks.txt"]') && 'ok'`,
			textOf("#job-id", id), textOf(".bids .price", price), textOf("#log", "tick 1\ntick 2\ntick 3\ntick 4\ntick 5"))},
		{"credits", "/dashboard/credits", `document.querySelector('#balance-chart path.line') && ` +
			textOf(`#receipts tr[data-job="`+id+`"] .amount`, amount)},
		{"owner", "/dashboard/owner", `document.querySelector('#drain') && document.querySelector('#provider-jobs') && ` + textOf("#running", "running")},
		{"submit", "/dashboard/submit", `document.querySelector('#module') && ` + textOf("#submit", "Submit")},
	}
	for _, p := range pages {
		b.do(t, p.name, chromedp.Navigate(base+p.path))
		b.wait(t, p.name, `document.body.dataset.ready === '1' && 'ready'`)
		b.wait(t, p.name, p.ready)
		if n := b.wait(t, p.name, `String(document.querySelectorAll('.error').length)`); n != "0" {
			body, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body.innerText`))
			t.Fatalf("%s shows %s errors:\n%s", p.name, n, body)
		}
		b.screenshot(t, p.name)
		b.noErrors(t, p.name)
	}
	// The job's page names the winner, and its outputs download.
	b.do(t, "the job's page", chromedp.Navigate(base+"/dashboard/jobs/"+id))
	b.wait(t, "the job's winner", fmt.Sprintf(`document.querySelector('#attempts span.id[title=%s]') && 'ok'`, jsString(runner)))
	b.wait(t, "the job's outputs", `document.querySelector('button.download[data-file="ticks.txt"]') && 'ok'`)
	url, got := b.download(t, "the job's outputs", `button.download[data-file="ticks.txt"]`, "ticks.txt")
	if got != "tick 1\ntick 2\ntick 3\ntick 4\ntick 5\n" || !strings.HasPrefix(url, "blob:"+base+"/") {
		t.Fatalf("ticks.txt downloaded from the job's page (from %q): %q; want the ticks, from a Blob URL of the page", url, got)
	}
	b.noErrors(t, "the job's page")
}

// submitFromThePage uploads the guest module on the submit page and
// follows the job's live log on its page.
func submitFromThePage(t *testing.T, b *browser, d *Node, base string) {
	t.Helper()
	mod := filepath.Join(t.TempDir(), "guest.wasm")
	if err := os.WriteFile(mod, guestModule(t), 0o644); err != nil {
		t.Fatal(err)
	}
	b.do(t, "the submit page", chromedp.Navigate(base+"/dashboard/submit"))
	b.wait(t, "the submit page", `document.body.dataset.ready === '1' && 'ready'`)
	b.do(t, "filling in the submit page",
		chromedp.SetUploadFiles(chromedp.CSS("#module"), []string{mod}),
		chromedp.SetValue(chromedp.CSS("#args"), "tick 3"),
		chromedp.SetValue(chromedp.CSS("#region"), "eu-*"))
	b.click(t, "submitting", "#submit")
	id := b.wait(t, "the submitted job's ID", `(() => { const a = document.querySelector('#submitted a'); return a ? a.textContent : false })()`)
	if rec, err := d.Job(id); err != nil || rec.Spec.Region != "eu-*" || len(rec.Spec.Args) != 2 {
		t.Fatalf("the job submitted from the page: %+v, %v", rec, err)
	}
	b.click(t, "the submitted job's page", "#submitted a")
	b.wait(t, "the submitted job's live log", textOf("#log", "tick 1\ntick 2\ntick 3"))
	b.wait(t, "the submitted job's end", textOf("h1 .badge", "completed"))
	b.do(t, "the jobs page", chromedp.Navigate(base+"/dashboard/jobs"))
	b.wait(t, "the submitted job in the list", textOf(`#jobs tr[data-job="`+id+`"]`, "completed"))
	b.noErrors(t, "submitting from the page")
}

// runningJob submits a long job through the API and waits until it runs.
func runningJob(t *testing.T, d *Node, c *api.Client) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	sub := guestSpec(t, "sleep", "120s")
	sub.Spec.TimeoutMS = 180_000
	out, err := c.Submit(ctx, api.SubmitRequest{Spec: *sub.Spec, Module: sub.Module, BidWindowMS: 2000, Detach: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for {
		if rec, err := d.Job(out.Job); err == nil && rec.State == api.JobRunning {
			return out.Job
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the long job %s did not run within 90s", out.Job)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// otherOriginGetsNothing loads a page from another port of 127.0.0.1 that
// posts to the node's API with the browser's credentials (the cookie goes
// along: cookies ignore ports): cancel, drain, submit, by fetch and by a
// form. The node must do none of it, and the page cannot read the page
// key. It returns the session cookie the page's server received.
func otherOriginGetsNothing(t *testing.T, b *browser, d *Node, long string) *http.Cookie {
	t.Helper()
	before := len(d.Jobs())
	target := "http://" + d.api.addr
	var stolen atomic.Pointer[http.Cookie]
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, c := range r.Cookies() {
			if strings.HasPrefix(c.Name, "meshnode_session_") {
				stolen.Store(c)
			}
		}
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<!doctype html><title>attack</title><link rel="icon" href="data:,">
<iframe name="sink"></iframe>
<form id="f" method="POST" action="%[1]s/v1/drain" target="sink"></form>
<script>
const api = %[2]s, body = JSON.stringify({spec: {executor: 'wasm', name: 'x', module: 'bafkreiaaaa', resources: {cpu_millis: 1000, memory_bytes: 1048576}, timeout_ms: 1000, policy: 'cost'}, detach: true});
const tries = [
  fetch(api + '/v1/drain', {method: 'POST', credentials: 'include'}),
  fetch(api + '/v1/jobs/%[3]s/cancel', {method: 'POST', credentials: 'include'}),
  fetch(api + '/v1/jobs', {method: 'POST', credentials: 'include', headers: {'Content-Type': 'text/plain'}, body}),
  fetch(api + '/v1/drain', {method: 'POST', mode: 'no-cors', credentials: 'include'}),
  fetch(api + '/v1/jobs/%[3]s/cancel', {method: 'POST', mode: 'no-cors', credentials: 'include'}),
  fetch(api + '/v1/jobs', {method: 'POST', mode: 'no-cors', credentials: 'include', body}),
  new Promise(done => { document.querySelector('iframe').onload = done; document.getElementById('f').submit(); }),
];
Promise.allSettled(tries).then(() => { document.title = 'done'; });
</script>`, target, jsString(target), long)
	}))
	t.Cleanup(evil.Close)
	b.do(t, "the page on another port", chromedp.Navigate(evil.URL+"/"))
	b.wait(t, "the page on another port", `document.title === 'done' && 'done'`)
	b.resetErrors() // its refused requests
	cookie := stolen.Load()
	if cookie == nil {
		t.Fatal("the page on another port got no session cookie: the test would prove nothing")
	}
	b.wait(t, "the page key out of another origin's reach", `localStorage.getItem('meshnode-key') === null && 'ok'`)
	rec, err := d.Job(long)
	if err != nil {
		t.Fatal(err)
	}
	if d.Info().Draining || rec.State != api.JobRunning || len(d.Jobs()) != before {
		t.Fatalf("a page on another port acted: draining %v, the long job %s, %d jobs (was %d)",
			d.Info().Draining, rec.State, len(d.Jobs()), before)
	}
	return cookie
}

// replayedCookieGetsNothing calls the API directly, as a server on another
// local port could with the session cookie the browser sent it, with the
// API's own Host and Origin: without the page key, which only the
// dashboard's origin holds, every call gets 401 and the node does
// nothing. With the key, read from the dashboard's own page, the same
// cookie is served: it was live, the key alone was missing. It returns the
// key.
func replayedCookieGetsNothing(t *testing.T, b *browser, d *Node, cookie *http.Cookie, long string) string {
	t.Helper()
	base := "http://" + d.api.addr
	call := func(method, path, key string) (int, string) { return cookieCall(t, base, cookie, method, path, key) }
	for _, r := range []struct{ method, path, key string }{
		{"GET", "/v1/info", ""}, {"GET", "/v1/jobs", ""}, {"POST", "/v1/drain", ""},
		{"POST", "/v1/jobs/" + long + "/cancel", ""}, {"POST", "/v1/drain", strings.Repeat("0", 64)},
	} {
		var e api.Error
		if code, body := call(r.method, r.path, r.key); code != http.StatusUnauthorized || json.Unmarshal([]byte(body), &e) != nil || e.Code != api.CodeUnauthorized {
			t.Errorf("the replayed cookie, %s %s (key %q): %d %q; want 401 unauthorized", r.method, r.path, r.key, code, body)
		}
	}
	rec, err := d.Job(long)
	if err != nil {
		t.Fatal(err)
	}
	if d.Info().Draining || rec.State != api.JobRunning {
		t.Fatalf("the replayed cookie acted: draining %v, the long job %s", d.Info().Draining, rec.State)
	}
	b.do(t, "the dashboard again", chromedp.Navigate(base+"/dashboard/"))
	key := b.wait(t, "the page key", `document.body.dataset.ready === '1' && localStorage.getItem('meshnode-key')`)
	if code, body := call("GET", "/v1/info", key); code != http.StatusOK {
		t.Fatalf("the same cookie with the page key: %d %q; want 200 (else the replay proved nothing)", code, body)
	}
	return key
}

// cookieCall calls the API at base as a program holding the session's
// cookie would, with the API's own Host and Origin and, unless empty, the
// page key.
func cookieCall(t *testing.T, base string, cookie *http.Cookie, method, path, key string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.AddCookie(cookie)
	req.Header.Set("Origin", base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if key != "" {
		req.Header.Set(api.KeyHeader, key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// logOut logs out on a page: the node forgets the session, the page its
// key, and the pages say how to log in again.
func logOut(t *testing.T, b *browser, base string) {
	t.Helper()
	b.do(t, "the overview", chromedp.Navigate(base+"/dashboard/"))
	b.wait(t, "the overview", `document.body.dataset.ready === '1' && document.querySelector('#logout') && 'ok'`)
	b.click(t, "logging out", "#logout")
	b.wait(t, "logged out", `location.pathname === '/dashboard/' && document.body.innerText.includes('Not logged in') && `+
		`localStorage.getItem('meshnode-key') === null && 'ok'`)
	b.resetErrors() // the 401 of the page that says so
	b.do(t, "a page after logging out", chromedp.Navigate(base+"/dashboard/jobs"))
	b.wait(t, "a page after logging out", textOf("body", "meshnode dashboard"))
	b.resetErrors()
}

// cancelAndDrain cancels the long job on its page and drains the node on
// the owner's.
func cancelAndDrain(t *testing.T, b *browser, d *Node, base, long string) {
	t.Helper()
	b.do(t, "the long job's page", chromedp.Navigate(base+"/dashboard/jobs/"+long))
	b.wait(t, "the long job's page", `document.querySelector('#cancel') && 'ok'`)
	b.click(t, "cancelling", "#cancel")
	b.wait(t, "the long job cancelled", textOf("h1 .badge", "cancelled"))
	if rec, err := d.Job(long); err != nil || rec.State != job.StateCancelled {
		t.Fatalf("after cancel on its page, the long job: %+v %v", rec, err)
	}
	b.do(t, "the owner's page", chromedp.Navigate(base+"/dashboard/owner"))
	b.wait(t, "the owner's page", `document.querySelector('#drain') && 'ok'`)
	b.click(t, "draining", "#drain")
	b.click(t, "confirming the drain", "#drain-confirm")
	b.wait(t, "drained", textOf("#drain-state", "Draining"))
	if !d.Info().Draining {
		t.Fatal("drain on the owner's page: the node is not draining")
	}
	b.noErrors(t, "cancel and drain")
}
