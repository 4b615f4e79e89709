package client

import (
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/libp2p/go-libp2p/core/peer"
)

// A candidate that cannot be reached is left out for longer after each
// failure in a row (30 s, 1 min, 2 min … 10 min), and a record it signed
// since its last failure brings it back at once.
func TestUnreachableBackoff(t *testing.T) {
	for _, tc := range []struct {
		fails int
		want  time.Duration
	}{{0, 30 * time.Second}, {1, 30 * time.Second}, {2, time.Minute}, {3, 2 * time.Minute}, {5, 8 * time.Minute}, {6, 10 * time.Minute}, {100, 10 * time.Minute}} {
		if got := leftOutFor(tc.fails); got != tc.want {
			t.Errorf("leftOutFor(%d) = %v, want %v", tc.fails, got, tc.want)
		}
	}
	now := time.Unix(1_800_000_000, 0)
	c := &Client{now: func() time.Time { return now }}
	p, err := peer.Decode("12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo")
	if err != nil {
		t.Fatal(err)
	}
	if c.failedBefore(p) {
		t.Fatal("failed before any attempt")
	}
	for range 3 {
		c.markUnreachable(p)
	}
	if u := c.cands.unreachable[p]; u.fails != 3 || !c.failedBefore(p) {
		t.Fatalf("after 3 failures: %+v", u)
	}
	// A record signed before the last failure changes nothing; one signed
	// after it does.
	c.onCapacity(&job.Capacity{Peer: p.String(), Seq: uint64(now.Add(-time.Second).UnixNano())})
	if !c.failedBefore(p) {
		t.Fatal("an older record cleared the failures")
	}
	c.onCapacity(&job.Capacity{Peer: p.String(), Seq: uint64(now.Add(time.Second).UnixNano())})
	if c.failedBefore(p) {
		t.Fatal("a record signed after the last failure did not bring the candidate back")
	}
}

// A candidate not connected is dialled in the background only — no auction
// waits for it — when it was reached lately (its connection went: it left
// or was killed) or another auction's dial of it is under way.
func TestProbation(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := &Client{now: func() time.Time { return now }}
	p, err := peer.Decode("12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo")
	if err != nil {
		t.Fatal(err)
	}
	if c.onProbation(p) {
		t.Fatal("a candidate never tried is on probation")
	}
	if !c.startDial(p) || c.startDial(p) || !c.onProbation(p) {
		t.Fatal("a second dial while one is under way: want refused, and the candidate on probation")
	}
	c.endDial(p)
	c.cands.reached = map[peer.ID]time.Time{p: now.Add(-reachedFor / 2)}
	if !c.onProbation(p) {
		t.Fatal("reached moments ago and not connected now: want probation")
	}
	now = now.Add(reachedFor)
	if c.onProbation(p) {
		t.Fatal("reached a while ago (a connection trimmed since, say): want it waited for like any new candidate")
	}
}
