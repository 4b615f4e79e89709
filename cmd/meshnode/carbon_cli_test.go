//go:build unix

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/computemesh/computemesh/internal/idref"
)

// TestCLIGreen: providers declare their carbon intensity (start
// --carbon-intensity, --carbon-forecast; a malformed forecast is refused
// naming its line), providers and market show it, submit --policy green
// --max-carbon picks the cleaner of two providers though dearer, job
// describe explains the carbon (the bids' intensities, the rejection, the
// estimate) and why a job with --not-before waited (issue #19).
func TestCLIGreen(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a mesh of processes")
	}
	t.Parallel()
	home, network := t.TempDir(), randomNetwork(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(bad, []byte("hour,intensity\n2026-03-01T12:30:00Z,40\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := meshnode(t, home, "start", "--data-dir", t.TempDir(), "--network", network, "--listen", "/ip4/127.0.0.1/tcp/0",
		"--api", "", "--carbon-forecast", bad)
	if r.code != exitUsage || !strings.Contains(r.stderr, bad+":2: hour \"2026-03-01T12:30:00Z\": not the start of an hour") {
		t.Fatalf("start with a malformed forecast: want exit %d naming its line 2\n%s", exitUsage, r)
	}
	var fc strings.Builder
	h := time.Now().UTC().Truncate(time.Hour)
	for i := -2; i < 10; i++ {
		fmt.Fprintf(&fc, "%s,40\n", h.Add(time.Duration(i)*time.Hour).Format(time.RFC3339))
	}
	forecast := filepath.Join(dir, "forecast.csv")
	if err := os.WriteFile(forecast, []byte(fc.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	dirty := startProvider(t, home, network, "dirty", "eu-west", "0.5", nil, "--carbon-intensity", "700")
	boot := []string{dirty.info.addr(t, "tcp")}
	clean := startProvider(t, home, network, "clean", "eu-north", "0.9", boot, "--carbon-forecast", forecast)
	via := []string{"--bootstrap", boot[0], "--network", network}

	// providers: the CARBON column, the forecast's range.
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		r = meshnode(t, home, append([]string{"providers"}, via...)...)
		if r.code == 0 && strings.Contains(r.stdout, "700") && strings.Contains(r.stdout, "40 (40-40 fc)") || time.Now().After(deadline) {
			break
		}
	}
	if r.code != 0 || !strings.Contains(r.stdout, "CARBON (g/kWh)") || !strings.Contains(r.stdout, "700") || !strings.Contains(r.stdout, "40 (40-40 fc)") {
		t.Fatalf("providers: want a CARBON column with 700 and 40 (40-40 fc)\n%s", r)
	}
	// The clean provider's node listens for bids from now (its market view).
	if r = meshnode(t, home, "market", "--data-dir", clean.dataDir); r.code != 0 {
		t.Fatalf("market\n%s", r)
	}

	hello := filepath.Join(helloDir(), "hello.yaml") // 1 cpu, 64 MiB, 10 s: 27.8 mWh
	r, out := meshSubmit(t, home, 2, append(via, "--bid-window", bidWindow, "--policy", "green", "--max-carbon", "10mg", hello)...)
	if r.code != 0 || out.Provider != clean.info.PeerID {
		t.Fatalf("submit --policy green --max-carbon 10mg: want exit 0 on the clean provider %s\n%s", clean.info.PeerID, r)
	}
	r = meshnode(t, home, "job", "describe", idref.Short(out.Job))
	for _, want := range []string{"policy green", "max carbon 10 mg", "700 g/kWh", "40 g/kWh",
		"estimated emissions 19.5 mg (27.8 mWh at 700 g/kWh) are over the max carbon 10 mg",
		"lowest estimated emissions 1.11 mg at 40 g/kWh", "Carbon", "CO2e by estimate: 40 g/kWh declared by the provider"} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Fatalf("job describe lacks %q\n%s", want, r)
		}
	}
	t.Logf("job describe:\n%s", r.stdout)

	// --not-before: the job waits, and its record says why.
	r, out = meshSubmit(t, home, 2, append(via, "--bid-window", bidWindow, "--not-before", "2s", hello)...)
	if r.code != 0 || out.Provider != dirty.info.PeerID {
		t.Fatalf("submit --not-before 2s: want exit 0 on the cheaper provider\n%s", r)
	}
	r = meshnode(t, home, "job", "describe", idref.Short(out.Job), "--json")
	var rec struct {
		NotBeforeMS int64  `json:"not_before_ms"`
		Deferred    string `json:"deferred"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rec); r.code != 0 || err != nil || rec.NotBeforeMS == 0 ||
		!strings.HasPrefix(rec.Deferred, "deferred until its not-before ") {
		t.Fatalf("job describe --json of a job with --not-before: %+v (%v)\n%s", rec, err, r)
	}
	if r = meshnode(t, home, "job", "describe", idref.Short(out.Job)); !strings.Contains(r.stdout, "Deferred") || !strings.Contains(r.stdout, "not before") {
		t.Fatalf("job describe does not say why the job waited\n%s", r)
	}

	// market: the intensities of the bids the clean provider's node heard.
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(time.Second) {
		r = meshnode(t, home, "market", "--data-dir", clean.dataDir)
		if r.code == 0 && strings.Contains(r.stdout, "CARBON P10/MEDIAN (g/kWh)") && strings.Contains(r.stdout, "700/700") || time.Now().After(deadline) {
			break
		}
		meshSubmit(t, home, 2, append(via, "--bid-window", bidWindow, hello)...) // more bids, more market samples
	}
	if !strings.Contains(r.stdout, "700/700") {
		t.Fatalf("market: want the dirty provider's bids at 700 g/kWh\n%s", r)
	}
}
