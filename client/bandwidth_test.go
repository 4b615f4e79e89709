package client

import (
	"testing"
	"time"
)

// A provider's rate is measured from fetches large enough to measure it,
// smoothed over them; one not measured has none (the default applies).
func TestBandwidths(t *testing.T) {
	var b bandwidths
	if b.of("p") != 0 {
		t.Fatal("a rate before any fetch")
	}
	b.note("p", 1<<20, time.Millisecond) // too small: round trips, not bandwidth
	if b.of("p") != 0 {
		t.Fatal("a 1 MiB fetch was taken for a measure")
	}
	b.note("p", 100<<20, time.Second)
	if got := b.of("p"); got != 100<<20 {
		t.Fatalf("after one fetch: %d, want %d", got, 100<<20)
	}
	b.note("p", 10<<20, time.Second) // slower now: the estimate moves towards it
	if got := b.of("p"); got >= 100<<20 || got <= 10<<20 {
		t.Fatalf("after a slower fetch: %d, want between", got)
	}
	if b.of("q") != 0 {
		t.Fatal("another provider got p's rate")
	}
}
