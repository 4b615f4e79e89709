package main

import (
	"bytes"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/computemesh/computemesh/api"
)

// meshnode dashboard prints a one-time link that logs a browser in.
func TestCLIDashboardPrintsALoginLink(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pages := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "dashboard") })
	srv, err := api.Listen("127.0.0.1:0", dir, nil, nil, api.Pages(pages))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	root := newRoot()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs([]string{"dashboard", "--data-dir", dir, "--no-open"})
	if err := root.Execute(); err != nil {
		t.Fatalf("dashboard: %v\n%s", err, errOut.String())
	}
	link := strings.TrimSpace(out.String())
	if !strings.HasPrefix(link, "http://"+srv.Addr()+"/dashboard/login?code=") {
		t.Fatalf("dashboard printed %q, want a login link to %s", link, srv.Addr())
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Jar: jar}
	resp, err := client.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = client.Get("http://" + srv.Addr() + "/dashboard/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "dashboard" {
		t.Fatalf("the dashboard after logging in with the link: %d %q", resp.StatusCode, body)
	}
}

// Opening the browser puts no login code on a command line (other local
// users read /proc/PID/cmdline): the browser is opened on a page in the
// data dir, readable by the owner alone, that sends it on to the link.
func TestCLIDashboardOpensNoCodeOnACommandLine(t *testing.T) {
	dir := t.TempDir()
	srv, err := api.Listen("127.0.0.1:0", dir, nil, nil, api.Pages(http.NotFoundHandler()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	bin := t.TempDir()
	argsFile := filepath.Join(bin, "args")
	script := "#!/bin/sh\nprintf '%s\\n' \"$@\" > " + argsFile + "\n"
	if err := os.WriteFile(filepath.Join(bin, "xdg-open"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("DISPLAY", ":99")
	root := newRoot()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs([]string{"dashboard", "--data-dir", dir})
	if err := root.Execute(); err != nil {
		t.Fatalf("dashboard: %v\n%s", err, errOut.String())
	}
	link := strings.TrimSpace(out.String())
	var args []byte
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if args, err = os.ReadFile(argsFile); err == nil && len(args) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("xdg-open was not run: %s", errOut.String())
		}
	}
	page := filepath.Join(dir, "dashboard-login.html")
	if got := strings.TrimSpace(string(args)); strings.Contains(got, "code=") || got != "file://"+page {
		t.Fatalf("xdg-open was given %q; want file://%s and no code", got, page)
	}
	st, err := os.Stat(page)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("the login page: %v, mode %v; want 0600", err, st.Mode().Perm())
	}
	b, _ := os.ReadFile(page)
	if !strings.Contains(string(b), `url=`+html.EscapeString(link)+`"`) {
		t.Fatalf("the login page does not send the browser on to %s:\n%s", link, b)
	}
}
