package credits

import (
	"testing"
	"time"

	"github.com/computemesh/computemesh/ledger"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/time/rate"
)

// An account is due for a sync at most once per ledger.SyncEvery, and a
// sync asks for what came since its last answer less the margin.
func TestSyncState(t *testing.T) {
	var s syncState
	now := time.Now()
	if s.since("a") != 0 {
		t.Fatal("an account never synced asks from the start")
	}
	if !s.due("a", now) || s.due("a", now.Add(ledger.SyncEvery/2)) {
		t.Fatal("due: want the first sync, not a second within SyncEvery")
	}
	if !s.due("a", now.Add(ledger.SyncEvery)) {
		t.Fatal("not due again after SyncEvery")
	}
	s.synced("a", now)
	if got, want := s.since("a"), now.Add(-ledger.SyncMargin).UnixMilli(); got != want {
		t.Fatalf("since %d, want %d", got, want)
	}
	s.mark("b", now.Add(time.Hour))
	if s.due("b", now.Add(ledger.SyncEvery)) {
		t.Fatal("an account judged an hour ahead is due")
	}
}

// A peer's bucket holds burst; refill sets the rate and starts every peer
// on a full bucket again.
func TestPeerLimits(t *testing.T) {
	l := peerLimits{rate: rate.Every(time.Hour), burst: 3}
	p, q := peer.ID("p"), peer.ID("q")
	if !l.allow(p, 3) || l.allow(p, 1) {
		t.Fatal("want a burst of 3, then nothing")
	}
	if !l.allow(q, 1) {
		t.Fatal("another peer has a bucket of its own")
	}
	l.refill(rate.Inf)
	for range 10 {
		if !l.allow(p, 3) {
			t.Fatal("refused at an infinite rate")
		}
	}
}
