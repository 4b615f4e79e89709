package node

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/computemesh/computemesh/examples/hello"
	"github.com/computemesh/computemesh/hwprobe"
	"github.com/computemesh/computemesh/job"
)

var hardware struct {
	once sync.Once
	rep  hwprobe.Report
}

// testHardware probes this machine once per test binary (the benchmark
// takes about half a second) for the providers the tests start.
func testHardware(t testing.TB) *hwprobe.Report {
	hardware.once.Do(func() { hardware.rep = hwprobe.Probe(context.Background()) })
	rep := hardware.rep
	return &rep
}

// meshOf starts providers from cfgs on network (the first is the bootstrap
// node; Mode, Network, Bootstrap and Hardware are filled in), then an
// ephemeral client that waits until every provider is on the jobs topic.
func meshOf(t testing.TB, network string, cfgs ...Config) (client *Node, provs []*Node) {
	t.Helper()
	return meshWithClient(t, network, Config{}, cfgs...)
}

// meshWithClient is meshOf with the client's configuration based on
// clientCfg (its mode, network, bootstrap, ephemerality and heartbeat
// timeout are the test mesh's).
func meshWithClient(t testing.TB, network string, clientCfg Config, cfgs ...Config) (client *Node, provs []*Node) {
	t.Helper()
	ctx := context.Background()
	var boot []string
	for i, cfg := range cfgs {
		cfg.Mode, cfg.Network, cfg.Bootstrap, cfg.Hardware = ModeProvider, network, boot, testHardware(t)
		n, err := New(ctx, cfg)
		if err != nil {
			t.Fatalf("provider %d: %v", i, err)
		}
		t.Cleanup(func() { n.Close() })
		if i == 0 {
			boot = []string{n.Mesh().Addrs()[0].String()}
		}
		provs = append(provs, n)
	}
	// As testMesh: the client's first look-ups find every provider only
	// once they have announced (a client started before that saw 1 of 3
	// providers on the jobs topic after 90 s, once, on a loaded CI).
	awaitAnnounced(t, provs)
	ccfg := clientCfg
	ccfg.Mode, ccfg.Bootstrap, ccfg.Network, ccfg.Ephemeral, ccfg.HeartbeatTimeout = ModeClient, boot, network, true, testHeartbeatTimeout
	client, err := New(ctx, ccfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	wctx, cancel := context.WithTimeout(ctx, 90*time.Second) // generous: the race detector on 2 busy cores
	defer cancel()
	if err := client.Mesh().WaitProviders(wctx, len(cfgs)); err != nil {
		t.Fatal(err)
	}
	return client, provs
}

// testHeartbeatTimeout is the test clients' patience with a silent
// provider: generous, because a loaded machine running the race detector can
// starve a provider's heartbeat goroutine for seconds. The default (3 s) is
// exercised by the CLI test that freezes a provider process.
const testHeartbeatTimeout = 30 * time.Second

type provSpec struct {
	region string
	rate   string // credits per core-hour
}

// awaitAnnounced waits (a minute at most each) for providers to have
// announced their capabilities on the DHT; a lone one has nobody to
// announce to (a client hears of it on the jobs topic).
func awaitAnnounced(t testing.TB, providers []*Node) {
	t.Helper()
	if len(providers) == 1 {
		return
	}
	for i, p := range providers {
		select {
		case <-p.Announced():
		case <-time.After(60 * time.Second):
			t.Fatalf("provider %d did not announce its capabilities within 60s", i)
		}
	}
}

// testMesh starts providers (the first is the bootstrap node) and a
// long-lived client on 127.0.0.1, all real libp2p hosts.
func testMesh(t *testing.T, provs []provSpec) (client *Node, providers []*Node) {
	t.Helper()
	return testMeshTB(t, provs)
}

func testMeshTB(t testing.TB, provs []provSpec) (client *Node, providers []*Node) {
	t.Helper()
	return testMeshWith(t, provs, nil)
}

// testMeshWith is testMesh with provider i's configuration changed by
// configure(i, cfg) (nil: none).
func testMeshWith(t testing.TB, provs []provSpec, configure func(i int, cfg *Config)) (client *Node, providers []*Node) {
	t.Helper()
	ctx := context.Background()
	var boot []string
	for i, p := range provs {
		rate, err := job.ParseCredits(p.rate)
		if err != nil {
			t.Fatal(err)
		}
		cfg := Config{
			Mode: ModeProvider, Region: p.region, Rates: job.Rates{CPUHour: rate},
			Bootstrap: boot, Network: "test", Capacity: job.Resources{CPUMillis: 4000, MemoryBytes: 4 << 30},
			Hardware: testHardware(t),
		}
		if configure != nil {
			configure(i, &cfg)
		}
		n, err := New(ctx, cfg)
		if err != nil {
			t.Fatalf("provider %d: %v", i, err)
		}
		t.Cleanup(func() { n.Close() })
		if i == 0 {
			boot = []string{n.Mesh().Addrs()[0].String()}
		}
		providers = append(providers, n)
	}
	awaitAnnounced(t, providers)
	client, err := New(ctx, Config{Mode: ModeClient, Bootstrap: boot, Network: "test", Ephemeral: true, HeartbeatTimeout: testHeartbeatTimeout})
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	t.Cleanup(func() { client.Close() })
	// Generous, as in meshWithClient: on 2 busy cores under the race
	// detector, the DHT can take over 30 s to show a new client the
	// providers its bootstrap peer did not.
	wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if err := client.Mesh().WaitProviders(wctx, len(providers)); err != nil {
		t.Fatal(err)
	}
	return client, providers
}

func helloSpec(t testing.TB, mut func(*job.Spec)) Submission {
	t.Helper()
	mod := hello.Module()
	s := &job.Spec{
		Executor: job.ExecutorWASM, Module: job.ModuleCID(mod).String(), Name: "hello.wasm",
		Args: []string{"world"}, Resources: job.Resources{CPUMillis: 1000, MemoryBytes: 64 << 20},
		TimeoutMS: 20_000, Policy: job.PolicyCost,
	}
	if mut != nil {
		mut(s)
	}
	return Submission{Spec: s, Module: mod, BidWindow: 2 * time.Second}
}

func TestEndToEndCheapestWins(t *testing.T) {
	t.Parallel()
	client, provs := testMesh(t, []provSpec{
		{"us-east", "2.0"}, {"eu-west", "0.9"}, {"eu-central", "0.5"}, {"ap-south", "0.7"},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := client.Submit(ctx, helloSpec(t, nil), func(e job.Event) { t.Logf("%s %s %s %s", e.Kind, short(e.Provider), e.Price, e.Message) })
	if err != nil {
		t.Fatal(err)
	}
	if out.State != job.StateCompleted {
		t.Fatalf("state %s: %s", out.State, out.Error)
	}
	if want := provs[2].ID().String(); out.Provider != want {
		t.Fatalf("winner %s, want the cheapest %s", out.Provider, want)
	}
	if got := string(out.Stdout); got == "" {
		t.Fatalf("no stdout")
	}
	fmt.Printf("%s", out.Stdout)
}

func submit(t *testing.T, client *Node, sub Submission, onEvent func(job.Event)) *job.Outcome {
	t.Helper()
	// Generous, the race detector on 2 busy cores: 90 s, or 90 s past a
	// deadline the job waits for a provider until.
	limit := time.Now().Add(90 * time.Second)
	if d := sub.Deadline.Add(90 * time.Second); d.After(limit) {
		limit = d
	}
	ctx, cancel := context.WithDeadline(context.Background(), limit)
	defer cancel()
	out, err := client.Submit(ctx, sub, func(e job.Event) {
		t.Logf("%8.2fms %-10s %s %s %s", float64(e.Elapsed)/1e6, e.Kind, short(e.Provider), e.Region, e.Message)
		if onEvent != nil {
			onEvent(e)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestEndToEndRegionConstraint(t *testing.T) {
	t.Parallel()
	client, provs := testMesh(t, []provSpec{
		{"us-east", "0.5"}, {"eu-west", "0.9"}, {"eu-central", "0.7"}, {"ap-south", "0.6"},
	})
	out := submit(t, client, helloSpec(t, func(s *job.Spec) { s.Region = "eu-*" }), nil)
	if out.State != job.StateCompleted {
		t.Fatalf("state %s: %s", out.State, out.Error)
	}
	if want := provs[2].ID().String(); out.Provider != want {
		t.Fatalf("winner %s (%s), want the cheapest EU provider %s", out.Provider, out.Region, want)
	}
	if out.Bids != 2 || out.Declines != 2 {
		t.Fatalf("bids %d declines %d, want 2 and 2", out.Bids, out.Declines)
	}
}

func TestEndToEndUnscheduled(t *testing.T) {
	t.Parallel()
	client, provs := testMesh(t, []provSpec{{"us-east", "0.5"}, {"eu-west", "0.9"}})
	sub := helloSpec(t, func(s *job.Spec) { s.Region = "mars-*"; s.MaxPrice = job.Nano / 10 })
	// A window far longer than the test: it ends because every candidate
	// declined, or not at all.
	sub.BidWindow = 10 * time.Minute
	var closedBy []string
	out := submit(t, client, sub, func(e job.Event) {
		if e.Kind == job.EventClosed {
			closedBy = append(closedBy, e.Message)
		}
	})
	if out.State != job.StateUnscheduled {
		t.Fatalf("state %s, want unscheduled", out.State)
	}
	for _, want := range []string{"no bids", "2 candidates", "0 matched", "region mars-*", "max price 0.1", "declined: region"} {
		if !strings.Contains(out.Error, want) {
			t.Errorf("error %q does not mention %q", out.Error, want)
		}
	}
	// Every candidate declined: each window must close early, not at its
	// deadline; there are two (the second asks every provider, once, and
	// gives those that are not candidates a second once the candidates
	// have answered).
	if len(closedBy) != 2 || closedBy[0] != "every candidate answered" || closedBy[1] != "every candidate answered, and 1s for the others" {
		t.Errorf("auctions closed by %q: want two, the first closing as soon as every candidate declined, the second a second later", closedBy)
	}
	// Submitted through a provider, it says that provider does not bid.
	if out := submit(t, provs[0], sub, nil); out.State != job.StateUnscheduled || !strings.Contains(out.Error, "never bids on its own jobs") {
		t.Errorf("through a provider: state %s, error %q; want unscheduled, saying the provider does not bid on its own jobs", out.State, out.Error)
	}
}

func TestEndToEndFailoverWhenWinnerDies(t *testing.T) {
	t.Parallel()
	client, provs := testMesh(t, []provSpec{
		{"us-east", "2.0"}, {"eu-west", "0.9"}, {"eu-central", "0.5"}, {"ap-south", "0.7"},
	})
	byID := map[string]*Node{}
	for _, p := range provs {
		byID[p.ID().String()] = p
	}
	killed := ""
	out := submit(t, client, helloSpec(t, nil), func(e job.Event) {
		if e.Kind == job.EventWinner && killed == "" {
			killed = e.Provider
			byID[e.Provider].Close() // the winner dies before the award reaches it
		}
	})
	if killed != provs[2].ID().String() {
		t.Fatalf("first winner %s, want the cheapest %s", killed, provs[2].ID())
	}
	if out.State != job.StateCompleted {
		t.Fatalf("state %s: %s", out.State, out.Error)
	}
	if want := provs[3].ID().String(); out.Provider != want {
		t.Fatalf("ran on %s, want the next cheapest %s", out.Provider, want)
	}
	if out.Attempts != 2 {
		t.Fatalf("attempts %d, want 2", out.Attempts)
	}
	if !strings.Contains(string(out.Stdout), "hello from computemesh") {
		t.Fatalf("stdout %q", out.Stdout)
	}
}

func TestEndToEndGarbageOnTopics(t *testing.T) {
	t.Parallel()
	client, provs := testMesh(t, []provSpec{{"us-east", "0.5"}, {"eu-west", "0.9"}})
	valid := job.Encode(job.NewRequest(job.ModuleCID([]byte("x")).String(), provs[0].ID().String(),
		helloSpec(t, nil).Spec, time.Now().Add(time.Minute).UnixMilli())) // claims another peer as client
	d := provs[0].Mesh().Drops()
	garbage := []struct {
		msg     []byte
		counter *atomic.Int64
	}{
		{[]byte("not json at all"), &d.Decode},
		{[]byte(`{"v":1,"job":"nope"}`), &d.Decode},
		{[]byte(`{"v":99}`), &d.Decode},
		{make([]byte, job.MaxGossipSize+1), &d.Oversize},
		{valid, &d.Forged},
	}
	// Each kind of garbage comes from an attacker of its own: peer scoring
	// graylists a peer after a few rejected messages, so one attacker's
	// later garbage would never reach the validators. A fresh GossipSub
	// peer may not be wired up for a moment: publish until the counter of
	// this kind of garbage moves (a late drop of the previous kind must not
	// end the wait).
	for _, g := range garbage {
		atk := newAttacker(t, "test", provs)
		before := g.counter.Load()
		for deadline := time.Now().Add(60 * time.Second); g.counter.Load() == before && time.Now().Before(deadline); {
			atk.publish(t, "jobs", g.msg)
			atk.publish(t, "bids", g.msg)
			time.Sleep(200 * time.Millisecond)
		}
	}
	if d.Decode.Load() < 3 || d.Oversize.Load() < 1 || d.Forged.Load() < 1 {
		t.Fatalf("drops: decode %d oversize %d forged %d; want at least 3, 1, 1",
			d.Decode.Load(), d.Oversize.Load(), d.Forged.Load())
	}
	out := submit(t, client, helloSpec(t, nil), nil)
	if out.State != job.StateCompleted || out.Provider != provs[0].ID().String() {
		t.Fatalf("after garbage: state %s on %s (%s)", out.State, out.Provider, out.Error)
	}
}
