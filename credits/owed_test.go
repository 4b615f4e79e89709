package credits

import (
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
)

func owedAward(jobID string, attempt int, client string, max job.Credits, expires time.Time) *job.Award {
	return &job.Award{Job: jobID, Attempt: attempt, Client: client,
		Auth: &job.Authorization{Max: max, ExpiresMS: expires.UnixMilli()}}
}

// An accepted run counts against its client until it is settled or its
// authorisation expires; the check sees what the client already owes, and
// its refusal keeps the run out.
func TestOwedReserveSettleExpire(t *testing.T) {
	var b owedBook
	later := time.Now().Add(time.Hour)
	ok := func(job.Credits) string { return "" }
	if why := b.reserve(owedAward("j1", 1, "c", 3, later), ok); why != "" {
		t.Fatalf("first run refused: %s", why)
	}
	var seen job.Credits
	if why := b.reserve(owedAward("j2", 1, "c", 4, later), func(owes job.Credits) string { seen = owes; return "" }); why != "" {
		t.Fatalf("second run refused: %s", why)
	}
	if seen != 3 {
		t.Fatalf("the check saw %v owed, want 3", seen)
	}
	if why := b.reserve(owedAward("j3", 1, "c", 1, later), func(job.Credits) string { return "too poor" }); why != "too poor" {
		t.Fatalf("refused run: %q, want the check's refusal", why)
	}
	if got := b.owes("c"); got != 7 {
		t.Fatalf("owes %v, want 7 (the refused run not counted)", got)
	}
	if why := b.reserve(owedAward("j2", 1, "c", 2, later), ok); why != "" { // the same attempt again: replaced
		t.Fatal(why)
	}
	if got := b.owes("c"); got != 5 {
		t.Fatalf("after the attempt was awarded again: owes %v, want 5", got)
	}
	b.settle("j1", 1)
	b.settle("j1", 1) // twice is harmless
	if got := b.owes("c"); got != 2 {
		t.Fatalf("after settling: owes %v, want 2", got)
	}
	if got := b.owes("other"); got != 0 {
		t.Fatalf("another client owes %v", got)
	}
	b.mu.Lock()
	b.swept = 0 // the next look sweeps
	b.mu.Unlock()
	if why := b.reserve(owedAward("j4", 1, "d", 9, time.Now().Add(-time.Second)), ok); why != "" {
		t.Fatal(why)
	}
	b.mu.Lock()
	b.swept = 0
	b.mu.Unlock()
	if got := b.owes("d"); got != 0 {
		t.Fatalf("an expired authorisation still counts: owes %v", got)
	}
}

// Past maxOwed runs the one expiring first is forgotten.
func TestOwedDropsTheOldest(t *testing.T) {
	var b owedBook
	now := time.Now()
	ok := func(job.Credits) string { return "" }
	b.reserve(owedAward("first", 1, "old", 1, now.Add(time.Minute)), ok)
	for i := 1; i < maxOwed; i++ {
		b.reserve(owedAward("j", i, "c", 1, now.Add(time.Hour)), ok)
	}
	if got := b.owes("old"); got != 1 {
		t.Fatalf("below the bound: owes %v, want 1", got)
	}
	b.reserve(owedAward("j", maxOwed, "c", 1, now.Add(time.Hour)), ok)
	if got := b.owes("old"); got != 0 {
		t.Fatalf("past the bound the oldest is kept: owes %v", got)
	}
	if got := b.owes("c"); got != maxOwed {
		t.Fatalf("owes %v, want %d", got, maxOwed)
	}
}
