package ledgersim

import (
	"crypto/ed25519"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
)

// small is the network the tests run: it finishes in seconds, even under
// the race detector.
func small() Config {
	return Config{Nodes: 300, Clients: 60, JobsPerSecond: 60, Seconds: 2, Seed: 1}
}

func run(t testing.TB, c Config) *Report {
	t.Helper()
	r, err := Run(c)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Checks.OK() {
		t.Fatalf("checks failed:\n%s", r.Table())
	}
	return r
}

// TestSmall asserts on counts only (never on times).
func TestSmall(t *testing.T) {
	t.Parallel()
	r := run(t, small())
	t.Logf("\n%s", r.Table())
	if r.Jobs < 60 || r.Checks.Syncs == 0 || r.Checks.Books < r.Config.Nodes/2 {
		t.Fatalf("%d jobs, %d syncs, %d books checked: the run did too little", r.Jobs, r.Checks.Syncs, r.Checks.Books)
	}
	today, next := r.Today.Mean, r.New.Mean
	if next.Messages*10 >= today.Messages {
		t.Errorf("messages per node per second: new %g, today %g: want < 1/10", next.Messages, today.Messages)
	}
	if next.StorageBytes*10 >= today.StorageBytes {
		t.Errorf("storage bytes per node per second: new %g, today %g: want < 1/10", next.StorageBytes, today.StorageBytes)
	}
	// Holders are spread by XOR distance, unevenly: over seeds the
	// busiest node stores 4 to 6 times the mean here.
	if top := r.New.Max.StorageBytes; top > 10*next.StorageBytes {
		t.Errorf("new design: a node stores %g bytes a second, %g times the mean %g", top, top/next.StorageBytes, next.StorageBytes)
	}
	// Today every node receives each publication D times.
	jobsPerSecond := float64(r.Jobs) / r.Config.Seconds
	if want := jobsPerSecond * float64(r.Config.Publishers*r.Config.GossipDegree); today.Messages < 0.9*want {
		t.Errorf("today: %g messages per node per second, want about %g", today.Messages, want)
	}
	if today.Records < 0.99*jobsPerSecond {
		t.Errorf("today: %g records stored per node per second, want %g (every receipt)", today.Records, jobsPerSecond)
	}
	// Today each record is added on its own: one fsync each. In the new
	// design a sync answer is one fsync, whatever it holds.
	if today.Fsyncs != today.Records {
		t.Errorf("today: %g fsyncs per node per second for %g records stored, want one each", today.Fsyncs, today.Records)
	}
	if next.Fsyncs > next.Records || next.Fsyncs == 0 {
		t.Errorf("new design: %g fsyncs per node per second for %g records stored, want some, at most one each", next.Fsyncs, next.Records)
	}
	if _, err := json.Marshal(r); err != nil {
		t.Errorf("the report does not encode: %v", err)
	}
}

// TestDeterministic: one seed, one set of counts.
func TestDeterministic(t *testing.T) {
	t.Parallel()
	c := small()
	c.Nodes, c.Clients, c.Seconds = 120, 30, 1
	a, b := run(t, c), run(t, c)
	if a.Jobs != b.Jobs || a.New.Mean.Messages != b.New.Mean.Messages || a.New.Mean.Bytes != b.New.Mean.Bytes ||
		a.New.Max.StorageBytes != b.New.Max.StorageBytes || a.Today.Mean.Bytes != b.Today.Mean.Bytes ||
		a.New.Mean.Fsyncs != b.New.Mean.Fsyncs || a.Today.Mean.Fsyncs != b.Today.Mean.Fsyncs {
		t.Errorf("two runs of one seed differ:\n%s\n%s", a.Table(), b.Table())
	}
}

// TestHistory: a judge's first sync of a client brings the client's
// whole history, in one fsync per answer, and its view is still exact.
func TestHistory(t *testing.T) {
	t.Parallel()
	c := small()
	c.Nodes, c.Clients, c.Seconds, c.SampleNodes = 120, 30, 1, 2
	base := run(t, c)
	c.History = 20
	r := run(t, c)
	if r.Wire["sync answer"] < 10*base.Wire["sync answer"] {
		t.Errorf("sync answers of %g bytes with a history of 20, %g without", r.Wire["sync answer"], base.Wire["sync answer"])
	}
	if n := r.WireRecords["sync answer"]; n < 20 {
		t.Errorf("first sync answers of %g records with a history of 20", n)
	}
	if r.Checks.IncrementalSyncs != 0 {
		t.Errorf("%d incremental syncs in %g simulated seconds, less than ledger.SyncEvery", r.Checks.IncrementalSyncs, r.Config.Seconds)
	}
	// About 20 records a sync, one fsync.
	if n := r.New.Mean; n.Fsyncs*2 > n.Records {
		t.Errorf("new design with a history of 20: %g fsyncs per node per second for %g records stored, want under half", n.Fsyncs, n.Records)
	}
}

// TestResync: a judge that synced a client before asks only for what is
// new (After, SinceMS); the holders leave out the history it holds, its
// view stays exact and never richer.
func TestResync(t *testing.T) {
	t.Parallel()
	// Few pairs, a long window: judges meet their clients again, past
	// ledger.SyncEvery and past ledger.SyncMargin.
	c := Config{Nodes: 16, Clients: 3, JobsPerSecond: 0.15, Seconds: 700, Seed: 1, SampleNodes: 1, History: 10}
	r := run(t, c)
	t.Logf("\n%s", r.Table())
	ck := r.Checks
	if ck.IncrementalSyncs < ck.Syncs/2 {
		t.Fatalf("%d of %d syncs incremental: want most", ck.IncrementalSyncs, ck.Syncs)
	}
	// Every incremental answer leaves out at least the history (dated
	// a day before the window, counted in the judge's book).
	if ck.LeftOut < 10*ck.IncrementalSyncs {
		t.Errorf("%d receipts left out of %d incremental syncs' answers: want at least the history, 10 each", ck.LeftOut, ck.IncrementalSyncs)
	}
}

// TestScale: at a fixed job rate per node, today's cost per node grows
// with the network, the new design's does not.
func TestScale(t *testing.T) {
	t.Parallel()
	var cfgs []Config
	for _, n := range []int{100, 400} {
		c := small()
		c.Nodes, c.Clients, c.JobsPerSecond = n, n/5, float64(n)/5
		cfgs = append(cfgs, c)
	}
	rs, err := Scale(cfgs)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", ScaleTable(rs))
	if g := rs[1].Today.Mean.Messages / rs[0].Today.Mean.Messages; g < 2.5 {
		t.Errorf("today: messages per node grew %gx for a network 4x as large, want about 4x", g)
	}
	for _, m := range []struct {
		name       string
		small, big float64
	}{
		{"messages", rs[0].New.Mean.Messages, rs[1].New.Mean.Messages},
		{"storage", rs[0].New.Mean.StorageBytes, rs[1].New.Mean.StorageBytes},
	} {
		if g := m.big / m.small; g > 1.5 || g < 0.67 {
			t.Errorf("new design: %s per node changed %gx for a network 4x as large, want about 1x", m.name, g)
		}
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	for _, c := range []Config{
		{Nodes: 10, Clients: 9},
		{Nodes: 10, JobsPerSecond: -1},
		{Nodes: 10, SampleNodes: 11},
		{Nodes: 10, History: 5000},
		{Nodes: 10, Publishers: 3},
	} {
		if _, err := Run(c); err == nil {
			t.Errorf("Run(%+v) ran", c)
		}
	}
}

func TestPeerID(t *testing.T) {
	t.Parallel()
	id := peerID(nodeKey(1, "x").Public().(ed25519.PublicKey))
	if len(id) != 52 || !strings.HasPrefix(id, "12D3KooW") {
		t.Errorf("peer ID %q: want 52 characters starting 12D3KooW, as libp2p's", id)
	}
	if got := base58([]byte{0, 0, 1, 2, 255}); got != "11LiA" {
		t.Errorf("base58 = %q, want 11LiA", got)
	}
}

// envConfig applies COMPUTEMESH_LEDGERSIM_SECONDS and _HISTORY to c.
func envConfig(t testing.TB, c Config) Config {
	t.Helper()
	if v := os.Getenv("COMPUTEMESH_LEDGERSIM_SECONDS"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			t.Fatalf("COMPUTEMESH_LEDGERSIM_SECONDS: %v", err)
		}
		c.Seconds = f
	}
	if v := os.Getenv("COMPUTEMESH_LEDGERSIM_HISTORY"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("COMPUTEMESH_LEDGERSIM_HISTORY: %v", err)
		}
		c.History = n
	}
	return c
}

// TestFull runs the scaling view up to the full case (minutes), when
// COMPUTEMESH_LEDGERSIM=1.
func TestFull(t *testing.T) {
	if os.Getenv("COMPUTEMESH_LEDGERSIM") != "1" {
		t.Skip("set COMPUTEMESH_LEDGERSIM=1 to run 10,000 nodes")
	}
	full := envConfig(t, DefaultConfig())
	part := full
	part.Nodes, part.Clients, part.JobsPerSecond = full.Nodes/10, full.Clients/10, full.JobsPerSecond/10
	rs, err := Scale([]Config{part, full})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		t.Logf("\n%s", r.Table())
		if !r.Checks.OK() {
			t.Errorf("checks failed for %d nodes", r.Config.Nodes)
		}
	}
	t.Logf("\n%s", ScaleTable(rs))
}

// BenchmarkLedgerCost runs the full case: 10,000 nodes, 1,000 jobs/s.
func BenchmarkLedgerCost(b *testing.B) {
	c := envConfig(b, DefaultConfig())
	var r *Report
	for b.Loop() {
		r = run(b, c)
	}
	b.Logf("\n%s", r.Table())
	for _, m := range []struct {
		v    float64
		unit string
	}{
		{r.Today.Mean.Messages, "today-msgs/node/s"},
		{r.New.Mean.Messages, "new-msgs/node/s"},
		{r.Today.Mean.Bytes, "today-B/node/s"},
		{r.New.Mean.Bytes, "new-B/node/s"},
		{r.Today.Mean.CPUMillis, "today-cpu-ms/node/s"},
		{r.New.Mean.CPUMillis, "new-cpu-ms/node/s"},
		{r.Today.Mean.StorageBytes, "today-stored-B/node/s"},
		{r.New.Mean.StorageBytes, "new-stored-B/node/s"},
		{r.New.Max.StorageBytes, "new-max-stored-B/node/s"},
		{r.Today.Mean.Fsyncs, "today-fsyncs/node/s"},
		{r.New.Mean.Fsyncs, "new-fsyncs/node/s"},
		{r.New.Max.Fsyncs, "new-max-fsyncs/node/s"},
	} {
		b.ReportMetric(m.v, m.unit)
	}
}
