package node

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

// browser is a headless Chromium driven over the DevTools protocol, that
// reaches nothing but 127.0.0.1: no proxy, every other host name
// unresolvable, no background networking, component updates or sync.
type browser struct {
	ctx context.Context

	mu     sync.Mutex
	errors []string // console errors, exceptions and failed loads since the last reset
}

// chromiumPath finds Chromium; without it the test fails under CI=true and
// is skipped elsewhere.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no Chromium on PATH (Debian: apt-get install chromium): the dashboard's browser test needs it"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func startBrowser(t *testing.T, path string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.DisableGPU,
		chromedp.WindowSize(1200, 800),
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("disable-field-trial-config", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("disable-features", "Translate,BlinkGenPropertyTrees,OptimizationHints,MediaRouter,DialMediaRouteProvider,AutofillServerCommunication"),
		chromedp.Flag("hide-scrollbars", true),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	b := &browser{ctx: ctx}
	messages := chromedp.Console(ctx) // starts the browser, subscribes now
	b.do(t, "the viewport", chromedp.EmulateViewport(1200, 800))
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				b.mu.Lock()
				b.errors = append(b.errors, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line))
				b.mu.Unlock()
			}
		}
	}()
	return b
}

// resetErrors forgets the console errors so far and returns them.
func (b *browser) resetErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.errors
	b.errors = nil
	return e
}

// noErrors fails the test if the console has had errors since the last reset.
func (b *browser) noErrors(t *testing.T, where string) {
	t.Helper()
	if e := b.resetErrors(); len(e) > 0 {
		t.Fatalf("%s: the console has errors:\n%s", where, strings.Join(e, "\n"))
	}
}

func (b *browser) do(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 90*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// wait evaluates a JavaScript expression until it is a non-empty string
// (false meanwhile; an evaluation that fails, the page navigating, is
// tried again) and returns it; generous, as the race detector on 2 busy
// cores wants.
func (b *browser) wait(t *testing.T, what, expr string) string {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
		v, err := chromedp.Run(ctx, chromedp.Evaluate[any](expr, chromedp.EvalAwaitPromise))
		cancel()
		if s, ok := v.(string); err == nil && ok && s != "" {
			return s
		}
		last = err
		time.Sleep(200 * time.Millisecond)
	}
	body, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ''`))
	t.Fatalf("%s: waiting 90s for %s (last error: %v); the page says:\n%s", what, expr, last, body)
	return ""
}

// download clicks sel, which must make the page download a file, and
// returns where the browser downloaded it from and the file as saved
// under name (the page's CSP and Chromium's download path in earnest).
func (b *browser) download(t *testing.T, what, sel, name string) (from, content string) {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(b.ctx, 90*time.Second)
	defer cancel()
	events := true
	if _, err := chromedp.Call(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
		Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir, EventsEnabled: &events,
	}); err != nil {
		t.Fatalf("%s: allowing downloads: %v", what, err)
	}
	begun := chromedp.Events(ctx, cdpbrowser.DownloadWillBegin)
	b.click(t, what, sel)
	for ev, err := range begun {
		if err != nil {
			t.Fatalf("%s: no download began: %v", what, err)
		}
		if ev.SuggestedFilename != name {
			t.Fatalf("%s: a download of %q (from %s), want %q", what, ev.SuggestedFilename, ev.URL, name)
		}
		from = ev.URL
		break
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
			return from, string(b)
		}
		select {
		case <-ctx.Done():
			entries, _ := os.ReadDir(dir)
			t.Fatalf("%s: %s not downloaded within 90s (the folder holds %v)", what, name, entries)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// click clicks the first element sel matches, once there is one, inside
// the page (one step: a live page re-renders, and an element a CDP click
// had looked up first may be gone by the time it clicks: "Could not find
// node with given id").
func (b *browser) click(t *testing.T, what, sel string) {
	t.Helper()
	b.wait(t, what, fmt.Sprintf(`(() => { const e = document.querySelector(%s); if (!e) return false; e.click(); return 'clicked' })()`, jsString(sel)))
}

// textOf is a JavaScript expression: the text of the first element sel
// matches that contains want, else false.
func textOf(sel, want string) string {
	return fmt.Sprintf(`(() => { const e = [...document.querySelectorAll(%s)].find(e => e.textContent.includes(%s)); return e ? e.textContent || 'ok' : false })()`,
		jsString(sel), jsString(want))
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// screenshot saves the viewport as DIR/name.png when DASHBOARD_SCREENSHOTS
// names DIR.
func (b *browser) screenshot(t *testing.T, name string) {
	t.Helper()
	dir := os.Getenv("DASHBOARD_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot of %s: %v", name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}
