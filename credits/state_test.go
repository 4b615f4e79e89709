package credits

import (
	"context"
	"testing"
	"time"

	"github.com/computemesh/computemesh/internal/testfaucet"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/ledger"
	"github.com/libp2p/go-libp2p/core/network"
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

// A judge asked about a client it knows nothing of while another judge of
// the same client is fetching (one CanPay started in the background for a
// relayed copy of the request) waits for that fetch rather than judging an
// empty ledger: a funded client is not declined for want of funds.
func TestJudgeWaitsForTheFetchInFlight(t *testing.T) {
	bs := books(t, "test-credits-judge-wait", 3)
	holder, judge, client := bs[0], bs[1], bs[2]
	g, err := SignGrant(testfaucet.Key(), holder.mesh.NetworkName(), client.self.String(), 5*job.Nano)
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Ledger().AddGrant(g); err != nil { // not gossiped: only the holder has it
		t.Fatal(err)
	}
	if judge.CanPay(client.self) {
		t.Fatal("the judge knew the client before any fetch")
	}
	// The fetch is seen in flight, or (on a quick machine, between two
	// looks) already done: either way it was started.
	started := func() bool {
		return judge.sync.inFlight(client.self.String()) || judge.Ledger().Spendable(client.self.String()) != 0
	}
	for deadline := time.Now().Add(30 * time.Second); !started(); time.Sleep(100 * time.Microsecond) {
		if time.Now().After(deadline) {
			t.Fatal("CanPay started no fetch of an author it knows nothing of")
		}
	}
	judge.Judge(context.Background(), client.self) // CanPay's fetch is in flight
	if got := judge.Ledger().Spendable(client.self.String()); got != 5*job.Nano {
		t.Fatalf("the judge sees %v spendable after judging, want the holder's grant of %v", got, 5*job.Nano)
	}
}

// A judge whose fetch outlasts its wait says it is not settled (the
// provider then answers busy, not funds), and the fetch goes on: the
// client's records arrive once the slow holder answers.
func TestJudgeOutlastingItsWait(t *testing.T) {
	bs := books(t, "test-credits-judge-slow", 3)
	holder, judge, client := bs[0], bs[1], bs[2]
	g, err := SignGrant(testfaucet.Key(), holder.mesh.NetworkName(), client.self.String(), 5*job.Nano)
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Ledger().AddGrant(g); err != nil {
		t.Fatal(err)
	}
	holder.mesh.Host().SetStreamHandler(holder.mesh.Protocol(SyncProtocol), func(s network.Stream) {
		time.Sleep(judgeWait + time.Second) // a holder slower than the judge waits
		holder.serveSync(s)
	})
	if judge.Judge(context.Background(), client.self) {
		t.Fatal("Judge said settled while the only holder of the client's grant had not answered")
	}
	for deadline := time.Now().Add(30 * time.Second); judge.Ledger().Spendable(client.self.String()) != 5*job.Nano; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the judge's fetch ended with its wait: the client's grant never arrived")
		}
	}
}
