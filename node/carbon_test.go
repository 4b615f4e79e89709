package node

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/mesh"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Two providers that differ in price and carbon intensity (issue #19):
// policy green picks the cleaner, cost the cheaper; a max carbon the
// cheaper's intensity cannot meet rejects its bid, and the job's record
// says why; balanced with a carbon weight weighs both.
func TestEndToEndGreenPicksTheCleaner(t *testing.T) {
	t.Parallel()
	res := job.Resources{CPUMillis: 4000, MemoryBytes: 4 << 30}
	client, provs := meshWithClient(t, "test-green", Config{RecordsDir: t.TempDir()},
		Config{Region: "eu-west", Rates: job.Rates{CPUHour: 500_000_000}, Capacity: res, CarbonIntensity: 700},
		Config{Region: "eu-north", Rates: job.Rates{CPUHour: 900_000_000}, Capacity: res, CarbonIntensity: 40})
	cheap, clean := provs[0].ID().String(), provs[1].ID().String()

	out := submit(t, client, helloSpec(t, nil), nil)
	if out.State != job.StateCompleted || out.Provider != cheap {
		t.Fatalf("cost: %s on %s (%s), want completed on the cheaper %s", out.State, short(out.Provider), out.Error, short(cheap))
	}
	out = submit(t, client, helloSpec(t, func(s *job.Spec) { s.Policy = job.PolicyGreen }), nil)
	if out.State != job.StateCompleted || out.Provider != clean {
		t.Fatalf("green: %s on %s (%s), want completed on the cleaner %s", out.State, short(out.Provider), out.Error, short(clean))
	}
	if out.Carbon != 40 || out.Emissions <= 0 || !strings.Contains(out.Reason, "lowest estimated emissions") {
		t.Fatalf("green: carbon %d, emissions %s, reason %q", out.Carbon, out.Emissions, out.Reason)
	}
	// 1 core, 64 MiB for 20 s (the timeout: no expected time) is 55.7 mWh:
	// 39 mg at 700 g/kWh, 2.2 mg at 40.
	out = submit(t, client, helloSpec(t, func(s *job.Spec) { s.MaxCarbon = 10 * job.Milligram }), nil)
	if out.State != job.StateCompleted || out.Provider != clean {
		t.Fatalf("cost with max carbon 10 mg: %s on %s (%s), want the cleaner %s", out.State, short(out.Provider), out.Error, short(clean))
	}
	checkRejected(t, client, out.Job, cheap, job.RejectMaxCarbon, "over the max carbon 10 mg")
	out = submit(t, client, helloSpec(t, func(s *job.Spec) {
		s.Policy, s.Weights = job.PolicyBalanced, job.Weights{Cost: 1, Latency: 0.01, Carbon: 1}
	}), nil)
	if out.State != job.StateCompleted || out.Provider != clean {
		t.Fatalf("balanced with carbon: %s on %s (%s), want the cleaner %s", out.State, short(out.Provider), out.Error, short(clean))
	}
	rec, err := client.Job(out.Job)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range rec.Rounds[len(rec.Rounds)-1].Answers {
		if want := map[string]job.Intensity{cheap: 700, clean: 40}[b.Provider]; b.Carbon != want {
			t.Errorf("the record's bid of %s: carbon %d, want %d", short(b.Provider), b.Carbon, want)
		}
	}
}

// checkRejected checks that a job's record keeps provider's rejection with
// code, its reason saying why.
func checkRejected(t *testing.T, client *Node, id, provider string, code job.RejectReason, why string) {
	t.Helper()
	rec, err := client.Job(id)
	if err != nil {
		t.Fatal(err)
	}
	for _, rd := range rec.Rounds {
		for _, rj := range rd.Rejected {
			if rj.Provider == provider && rj.Code == code && strings.Contains(rj.Reason, why) {
				return
			}
		}
	}
	t.Fatalf("the record of %s keeps no %s rejection of %s saying %q: %+v", id, code, short(provider), why, rec.Rounds)
}

// A deferrable job waits for a greener hour within its deadline (issue
// #19): the providers' forecasts say that in two hours one of them runs
// on 40 g/kWh, where now the best is 300. The job says so, waits (the
// nodes' clock is moved to that hour once it does), then runs there; its
// record says why it waited.
func TestCarbonDeferral(t *testing.T) {
	t.Parallel()
	var ahead atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }
	h0 := clock().Truncate(time.Hour)
	var fc strings.Builder
	fc.WriteString("hour,intensity\n")
	for i := -1; i < 8; i++ {
		v := 900
		if i == 2 {
			v = 40
		}
		fmt.Fprintf(&fc, "%s,%d\n", h0.Add(time.Duration(i)*time.Hour).UTC().Format(time.RFC3339), v)
	}
	forecast := filepath.Join(t.TempDir(), "forecast.csv")
	if err := os.WriteFile(forecast, []byte(fc.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	res := job.Resources{CPUMillis: 2000, MemoryBytes: 2 << 30}
	// Records outlive the clock's jump of up to three hours.
	ttl := 4 * time.Hour
	client, provs := meshWithClient(t, "test-green-defer", Config{RecordsDir: t.TempDir(), Clock: clock},
		Config{Region: "eu-west", Rates: job.Rates{CPUHour: 500_000_000}, Capacity: res, CarbonIntensity: 300, Clock: clock, RecordTTL: ttl},
		Config{Region: "eu-north", Rates: job.Rates{CPUHour: 900_000_000}, Capacity: res, CarbonForecast: forecast, Clock: clock, RecordTTL: ttl})
	sunny := provs[1].ID().String()
	sub := helloSpec(t, func(s *job.Spec) { s.Policy, s.ExpectedMS = job.PolicyGreen, 10_000 })
	sub.Deadline = clock().Add(5 * time.Hour)
	var mu sync.Mutex
	var kinds []job.EventKind
	out := submit(t, client, sub, func(e job.Event) {
		mu.Lock()
		kinds = append(kinds, e.Kind)
		mu.Unlock()
		if e.Kind == job.EventDeferred {
			// The greener hour has come.
			ahead.Store(int64(time.Until(h0.Add(2*time.Hour + time.Second))))
		}
	})
	if out.State != job.StateCompleted || out.Provider != sunny || out.Carbon != 40 {
		t.Fatalf("%s on %s at %d g/kWh (%s), want completed on %s at 40", out.State, short(out.Provider), out.Carbon, out.Error, short(sunny))
	}
	mu.Lock()
	first := kinds[0]
	mu.Unlock()
	if first != job.EventDeferred {
		t.Fatalf("events %v: the job did not wait before its first auction", kinds)
	}
	rec, err := client.Job(out.Job)
	if err != nil {
		t.Fatal(err)
	}
	want := "deferred until " + h0.Add(2*time.Hour).UTC().Format(time.RFC3339) + " for a greener hour: 40 g/kWh"
	if !strings.HasPrefix(rec.Deferred, want) || !strings.Contains(rec.Deferred, "against 300 g/kWh") {
		t.Fatalf("the record says it was deferred %q, want %q ... against 300 g/kWh", rec.Deferred, want)
	}
	if rec.State != job.StateCompleted {
		t.Fatalf("record state %s", rec.State)
	}
}

// A hostile peer gossips, each in its own name, a bid and a capacity
// record that declare 9000 gCO₂e/kWh: the topics' validators refuse both
// as malformed (counted), the client never hears of the record, and an
// honest provider's green job goes on.
func TestCarbonHostilePeer(t *testing.T) {
	t.Parallel()
	const network = "test-carbon-hostile"
	client, provs := meshOf(t, network, Config{Region: "eu-west", Rates: job.Rates{CPUHour: 500_000_000},
		Capacity: job.Resources{CPUMillis: 2000, MemoryBytes: 2 << 30}, CarbonIntensity: 120})
	d := client.Mesh().Drops()
	var attackers []peer.ID
	for _, topic := range []string{"bids", "capacity"} {
		h, ps := rawGossipPeer(t, pubsub.WithMaxMessageSize(4<<20))
		tp, err := ps.Join("computemesh/" + network + "/" + topic)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tp.Subscribe(); err != nil {
			t.Fatal(err)
		}
		connectTo(t, h, []*Node{client, provs[0]})
		msg := job.Encode(&job.Bid{V: job.Version, Job: job.ModuleCID([]byte("x")).String(), Provider: h.ID().String(), Price: 1,
			Region: "eu-west", ExpiresMS: time.Now().Add(time.Minute).UnixMilli(), Carbon: 9000})
		if topic == "capacity" {
			rec := &job.Capacity{V: job.Version, Peer: h.ID().String(), Network: network, Seq: 1, Region: "eu-west",
				ExpiresMS: time.Now().Add(time.Hour).UnixMilli(), Executors: []string{job.ExecutorWASM}, Carbon: 9000,
				Total: job.Resources{CPUMillis: 64000, MemoryBytes: 64 << 30}, Free: job.Resources{CPUMillis: 64000, MemoryBytes: 64 << 30}}
			if msg, err = mesh.SealCapacity(rec, h.Peerstore().PrivKey(h.ID())); err != nil {
				t.Fatal(err)
			}
		}
		// A fresh GossipSub peer may not be wired up for a moment: publish
		// until the client's validator has refused one.
		before := d.Decode.Load()
		for deadline := time.Now().Add(60 * time.Second); d.Decode.Load() == before; time.Sleep(200 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the client's validator refused no %s message of 9000 gCO2e/kWh within 60s", topic)
			}
			if err := tp.Publish(t.Context(), msg); err != nil {
				t.Fatal(err)
			}
		}
		attackers = append(attackers, h.ID())
	}
	if heard := client.client.Heard(job.Need{Executor: job.ExecutorWASM}); slices.Contains(heard, attackers[1]) {
		t.Fatalf("the client holds the record of 9000 gCO2e/kWh")
	}
	out := submit(t, client, helloSpec(t, func(s *job.Spec) { s.Policy = job.PolicyGreen }), nil)
	if out.State != job.StateCompleted || out.Provider != provs[0].ID().String() || out.Carbon != 120 {
		t.Fatalf("after the hostile peer: %s on %s at %d g/kWh (%s)", out.State, short(out.Provider), out.Carbon, out.Error)
	}
}
