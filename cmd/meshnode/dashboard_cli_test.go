package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"

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
