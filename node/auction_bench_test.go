package node

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/computemesh/computemesh/examples/tiny"
	"github.com/computemesh/computemesh/job"
)

// BenchmarkAuction measures the auction phase against the number of bidders
// (issue #5): N providers and one client, real libp2p hosts on 127.0.0.1 in
// one process, the tiny job (examples/tiny, 142 bytes) submitted one after
// another. Per op: out.Timings.Auction (request gossiped → every answer in
// → ranked; reported as auction-p50-ms and auction-p99-ms), the time from
// Submit to the winner event (winner-p50-ms, winner-p99-ms: discovery,
// which is cached, plus the auction), bids and candidates per op, and how
// many windows closed at their deadline instead of on the last answer and
// how many jobs did not complete (counted, not fatal).
// ns/op is the whole submit → result. See docs/BENCHMARKS.md.
func BenchmarkAuction(b *testing.B) {
	for _, n := range []int{5, 20, 100} {
		b.Run(fmt.Sprintf("bidders=%d", n), func(b *testing.B) { benchAuction(b, n) })
	}
}

const auctionNetwork = "test-auction"

// auctionMesh starts n providers one after another (each bootstrapping from
// node 0 and a random earlier node), waits until each has announced its
// capabilities, then starts an ephemeral client and waits until it sees all
// n on the jobs topic. Rates differ (seven steps) so that ranking has work.
func auctionMesh(b *testing.B, n int) (*Node, []*Node) {
	b.Helper()
	ctx := context.Background()
	rng := mrand.New(mrand.NewPCG(uint64(n), 5))
	var provs []*Node
	boot := func() []string {
		var bs []string
		if len(provs) > 0 {
			bs = append(bs, provs[0].Mesh().Addrs()[0].String())
		}
		if len(provs) > 2 {
			bs = append(bs, provs[1+rng.IntN(len(provs)-1)].Mesh().Addrs()[0].String())
		}
		return bs
	}
	regions := []string{"eu-west", "us-east", "ap-south", "eu-central"}
	start := time.Now()
	for i := range n {
		p, err := New(ctx, Config{
			Mode: ModeProvider, Network: auctionNetwork, Bootstrap: boot(), Hardware: testHardware(b),
			Region: regions[i%len(regions)], Rates: job.Rates{CPUHour: job.Nano * job.Credits(1+i%7) / 10},
			Capacity: job.Resources{CPUMillis: 1000, MemoryBytes: 1 << 30},
		})
		if err != nil {
			b.Fatalf("provider %d of %d: %v", i, n, err)
		}
		b.Cleanup(func() { p.Close() })
		provs = append(provs, p)
	}
	started := time.Since(start)
	deadline := time.After(5 * time.Minute)
	for i, p := range provs {
		if n == 1 {
			break
		}
		select {
		case <-p.Announced():
		case <-deadline:
			b.Fatalf("%d nodes: provider %d had not announced its capabilities after 5 min", n, i)
		}
	}
	client, err := New(ctx, Config{Mode: ModeClient, Bootstrap: boot(), Network: auctionNetwork, Ephemeral: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { client.Close() })
	b.Logf("%d providers: started in %v, announced after %v", n, started.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	return client, provs
}

func benchAuction(b *testing.B, n int) {
	client, provs := auctionMesh(b, n)
	sub := benchJob(tiny.Module(), "tiny.wasm", 1)
	// The window is an upper bound: it closes on the last answer. Generous,
	// so that on a loaded machine a hundred answers are not cut off (a
	// close at the deadline is counted).
	sub.BidWindow = 10 * time.Second
	ctx := context.Background()

	// Warm up until a job's auction expects every provider (the DHT look-up
	// and the client's jobs-topic peers have caught up, connections are
	// open, every provider has compiled the module it won) or a minute has
	// passed; then the measured jobs start.
	var out *job.Outcome
	var err error
	start := time.Now()
	for tries := 0; ; tries++ {
		out, err = client.Submit(ctx, sub, nil)
		if err != nil || out.State != job.StateCompleted {
			b.Fatalf("warm-up: %v %+v", err, out)
		}
		if (out.Candidates == n && out.Bids == n && tries >= 10) || time.Since(start) > time.Minute {
			break
		}
	}
	b.Logf("%d providers: warm after %v: %d candidates, %d bids", n, time.Since(start).Round(time.Millisecond), out.Candidates, out.Bids)

	var auction, winner []time.Duration
	var bids, cands, deadlines, failed int
	for b.Loop() {
		var won time.Duration
		closedAtDeadline := false
		out, err := client.Submit(ctx, sub, func(e job.Event) {
			// Winner and closed are emitted by Submit's own goroutine.
			switch {
			case e.Kind == job.EventWinner && won == 0:
				won = e.Elapsed
			case e.Kind == job.EventClosed && e.Message == "deadline":
				deadlines++
				closedAtDeadline = true
			}
		})
		if err != nil {
			b.Fatalf("submit: %v", err)
		}
		if closedAtDeadline {
			// Which side lost the answers: providers that hold a standing
			// bid for the job did get the request and answered.
			standing := 0
			for _, p := range provs {
				if p.provider.HasBid(out.Job) {
					standing++
				}
			}
			jobsPeers, _ := client.Mesh().TopicPeers()
			b.Logf("job %d: window closed at its deadline with %d bids; %d providers hold a standing bid for it (+1 if the winner's was awarded); the client has %d jobs-topic peers, %d connections",
				len(auction), out.Bids, standing, len(jobsPeers), len(client.Mesh().Host().Network().Conns()))
		}
		if out.State != job.StateCompleted {
			// Counted, not fatal: on an overloaded machine a job may find
			// no bid in time; its auction time still counts.
			failed++
			b.Logf("job %d: %s: %s (discover %.0f ms, auction %.0f ms)", len(auction), out.State, out.Error, out.Timings.Discover, out.Timings.Auction)
		} else {
			winner = append(winner, won)
		}
		auction = append(auction, time.Duration(out.Timings.Auction*1e6))
		bids += out.Bids
		cands += out.Candidates
	}
	if len(winner) == 0 {
		b.Fatalf("no job of %d completed", len(auction))
	}
	ops := float64(len(auction))
	pct := func(d []time.Duration, name string) {
		slices.Sort(d)
		b.ReportMetric(float64(d[len(d)/2])/1e6, name+"-p50-ms")
		b.ReportMetric(float64(d[len(d)*99/100])/1e6, name+"-p99-ms")
	}
	pct(auction, "auction")
	pct(winner, "winner")
	b.ReportMetric(float64(bids)/ops, "bids/op")
	b.ReportMetric(float64(cands)/ops, "candidates/op")
	b.ReportMetric(float64(deadlines)/ops, "deadline-closes/op")
	b.ReportMetric(float64(failed)/ops, "not-completed/op")
}
