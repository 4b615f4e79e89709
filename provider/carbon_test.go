package provider

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// warnLog keeps the messages of Warnw calls.
type warnLog struct {
	mu    sync.Mutex
	warns []string
}

func (l *warnLog) Debugw(string, ...any) {}
func (l *warnLog) Infow(string, ...any)  {}
func (l *warnLog) Errorw(string, ...any) {}
func (l *warnLog) Warnw(msg string, _ ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.warns = append(l.warns, msg)
}

func writeForecast(t *testing.T, path string, from time.Time, values ...int) {
	t.Helper()
	var b strings.Builder
	for i, v := range values {
		fmt.Fprintf(&b, "%s,%d\n", from.Add(time.Duration(i)*time.Hour).Format(time.RFC3339), v)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// What a provider declares of its carbon intensity: the forecast's hours
// from now's, read again when the file changes, the last good one kept
// when it no longer parses, and the constant alone once every hour is past
// (stale, logged once).
func TestCarbonSource(t *testing.T) {
	h := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	path := filepath.Join(t.TempDir(), "fc.csv")
	writeForecast(t, path, h, 300, 100, 40)
	log := &warnLog{}
	cs, err := newCarbonSource(&Options{Carbon: 250, CarbonForecast: path, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	carbon, f := cs.declare(h.Add(90 * time.Minute))
	if carbon != 250 || f == nil || f.StartMS != h.Add(time.Hour).UnixMilli() || len(f.Hours) != 2 {
		t.Fatalf("at 13:30: carbon %d, forecast %+v; want 250 and the hours from 13:00", carbon, f)
	}
	// The owner updates the file: read again.
	writeForecast(t, path, h, 300, 100, 40, 20)
	later := time.Now().Add(time.Second)
	_ = os.Chtimes(path, later, later)
	if _, f = cs.declare(h.Add(90 * time.Minute)); len(f.Hours) != 3 {
		t.Fatalf("after the update: %+v, want 3 hours", f)
	}
	// A broken update: the last good one stays, and the log says so.
	if err := os.WriteFile(path, []byte("garbage\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, f = cs.declare(h.Add(90 * time.Minute)); f == nil || len(f.Hours) != 3 || len(log.warns) != 1 {
		t.Fatalf("after a broken update: %+v, warnings %q", f, log.warns)
	}
	// Stale: the constant alone, logged once.
	writeForecast(t, path, h, 300, 100, 40, 20)
	for range 2 {
		if carbon, f = cs.declare(h.Add(5 * time.Hour)); carbon != 250 || f != nil {
			t.Fatalf("stale: carbon %d, forecast %+v; want 250 alone", carbon, f)
		}
	}
	if len(log.warns) != 2 || !strings.Contains(log.warns[1], "stale") {
		t.Fatalf("warnings %q, want one for the stale forecast", log.warns)
	}
	// Without a constant, the record's carbon is the current hour's.
	cs2, err := newCarbonSource(&Options{CarbonForecast: path, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	if carbon, _ = cs2.declare(h.Add(2*time.Hour + time.Minute)); carbon != 40 {
		t.Fatalf("forecast alone at 14:01: carbon %d, want the hour's 40", carbon)
	}
	// A malformed file at start, or an absurd constant, is the owner's
	// configuration's fault.
	if err := os.WriteFile(path, []byte("2026-03-01T12:00:00Z,9000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := newCarbonSource(&Options{CarbonForecast: path, Log: log}); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), path+":1: intensity 9000") {
		t.Fatalf("a malformed forecast: %v", err)
	}
	if _, err := newCarbonSource(&Options{Carbon: -1, Log: log}); !errors.Is(err, ErrConfig) {
		t.Fatalf("carbon intensity -1: %v", err)
	}
}
