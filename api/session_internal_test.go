package api

import (
	"testing"
	"time"
)

// Login codes last LoginCodeTTL and sessions SessionTTL; an expired one
// is refused, and so is a used code.
func TestDashboardSecretsExpire(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	d := &sessions{now: func() time.Time { return now }, codes: map[[32]byte]entry{}, live: map[[32]byte]entry{}}
	code, err := d.issue(d.codes, LoginCodeTTL, maxLoginCodes, [32]byte{})
	if err != nil {
		t.Fatal(err)
	}
	late, err := d.issue(d.codes, LoginCodeTTL, maxLoginCodes, [32]byte{})
	if err != nil {
		t.Fatal(err)
	}
	id, err := d.issue(d.live, SessionTTL, maxSessions, [32]byte{})
	if err != nil {
		t.Fatal(err)
	}
	if !d.valid(d.codes, code, true) || d.valid(d.codes, code, true) {
		t.Fatal("a fresh code: want good once")
	}
	now = now.Add(LoginCodeTTL)
	if d.valid(d.codes, late, true) {
		t.Fatal("a code past LoginCodeTTL was taken")
	}
	if !d.valid(d.live, id, false) || !d.valid(d.live, id, false) {
		t.Fatal("a session within SessionTTL: want good, again and again")
	}
	now = now.Add(SessionTTL)
	if d.valid(d.live, id, false) || len(d.live) != 0 {
		t.Fatalf("a session past SessionTTL was taken (or kept: %d)", len(d.live))
	}
}

// Unused codes are bounded: the oldest goes first.
func TestDashboardCodesBounded(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	d := &sessions{now: func() time.Time { return now }, codes: map[[32]byte]entry{}}
	var first string
	for i := range maxLoginCodes + 5 {
		c, err := d.issue(d.codes, LoginCodeTTL, maxLoginCodes, [32]byte{})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = c
		}
		now = now.Add(time.Second)
	}
	if len(d.codes) != maxLoginCodes || d.valid(d.codes, first, true) {
		t.Fatalf("%d codes kept, the first still good; want %d, the oldest evicted", len(d.codes), maxLoginCodes)
	}
}
