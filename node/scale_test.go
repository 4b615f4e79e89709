package node

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/computemesh/computemesh/examples/tiny"
	"github.com/computemesh/computemesh/internal/memnet"
	"github.com/computemesh/computemesh/internal/procstat"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/mesh"
	"github.com/libp2p/go-libp2p"
	coreconnmgr "github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	ma "github.com/multiformats/go-multiaddr"
)

// Scale (issue #15): hundreds of whole nodes (node.New: mesh, DHT,
// GossipSub, credits, client, provider with its WASM executor) in one
// process, each on a real libp2p host (swarm, identify, a node's connection
// manager) whose transport is internal/memnet (in-memory connections: no
// sockets, no handshakes, no stream multiplexer, no goroutine per stream,
// so that the two cores and the one heap go to what computemesh does
// rather than to Noise, QUIC and the simulation). A mesh is built, then providers join
// it one at a time while client nodes ("watchers") look providers up as a
// client's discovery does (Mesh.FindProviders of "cpu", the key of a job
// with no special needs, then the provider's signed capacity record from
// the DHT, verified); each provider's announcement is timed from its
// node.New returning to the first watcher that has its verified record.
// Then client nodes submit tiny WASM jobs through Node.Submit. TestScale is
// the small version; BenchmarkScale the 500-node run (docs/BENCHMARKS.md).

const scaleNetwork = "test-scale"

// scaleSpec is the shape of a scale run.
type scaleSpec struct {
	nodes     int           // every node, joiners included
	clients   int           // client nodes among them, node 0 and the watchers included; the rest are providers
	watchers  int           // clients that look providers up from the joiners' start
	joiners   int           // providers that join the formed mesh, measured
	joinEvery time.Duration // between two joiners
	jobs      int           // tiny jobs submitted once the mesh is whole
	parallel  int           // clients submitting at once
	findWait  time.Duration // how long the watchers go on after the last joiner
}

// scaleNet is a running scale run.
type scaleNet struct {
	spec    scaleSpec
	mn      mocknet.Mocknet // SCALE_NET=mocknet
	mem     *memnet.Network // otherwise
	hosts   []host.Host
	nodes   []*Node
	clients []*Node
	rng     *mrand.Rand
	watch   *watch
	mem0    memSample    // before any host
	mem1    memSample    // hosts made and linked
	verbose bool         // progress on standard error
	opened  atomic.Int64 // connections opened, counted at both ends
}

// clientAt reports whether node i is a client: node 0 (everyone's first
// bootstrap peer, a client as the testnet's and the devnet's bootstrap
// nodes are: a member of the capacity topic), the watchers right after it,
// the other clients spread over the mesh before the joiners, who are all
// providers.
func (s scaleSpec) clientAt(i int) bool {
	if i <= s.watchers {
		return true
	}
	rest, formed := s.clients-s.watchers-1, s.nodes-s.joiners-s.watchers-1
	if rest <= 0 || i <= s.watchers || i >= s.nodes-s.joiners {
		return false
	}
	step := formed / rest
	k := i - s.watchers - 1
	return k%step == step-1 && k/step < rest
}

// newScaleNet makes the hosts (Ed25519 keys, loopback addresses that no
// socket listens on) on the in-memory network: real libp2p hosts over
// internal/memnet, or, with SCALE_NET=mocknet, libp2p's mocknet with every
// pair of hosts linked (the benchmark's network before memnet, for
// comparisons).
func newScaleNet(t testing.TB, spec scaleSpec) *scaleNet {
	t.Helper()
	s := &scaleNet{spec: spec, rng: mrand.New(mrand.NewPCG(uint64(spec.nodes), 15)), watch: newWatch()}
	s.mem0 = sampleMem()
	t.Cleanup(func() { s.close(t) })
	if os.Getenv("SCALE_NET") == "mocknet" {
		s.mn = mocknet.New()
	} else {
		s.mem = memnet.New()
	}
	for i := range spec.nodes {
		k, _, err := crypto.GenerateEd25519Key(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		a := ma.StringCast(fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", 20000+i))
		h, err := s.newHost(k, a)
		if err != nil {
			t.Fatalf("host %d: %v", i, err)
		}
		h.Network().Notify(&network.NotifyBundle{ConnectedF: func(network.Network, network.Conn) { s.opened.Add(1) }})
		s.hosts = append(s.hosts, h)
	}
	if s.mn != nil {
		for i, a := range s.hosts {
			for _, b := range s.hosts[i+1:] {
				if _, err := s.mn.LinkPeers(a.ID(), b.ID()); err != nil {
					t.Fatalf("linking %s and %s: %v", a.ID(), b.ID(), err)
				}
			}
		}
	}
	s.mem1 = sampleMem()
	return s
}

// newHost is a host with key k listening at a, with a real node's
// connection manager (mesh.NewConnManager): without it every node ends up
// connected to nearly every other, as none is. The DHT and GossipSub tag
// and protect their peers through it, so it trims as on a real node.
func (s *scaleNet) newHost(k crypto.PrivKey, a ma.Multiaddr) (host.Host, error) {
	cm, err := mesh.NewConnManager()
	if err != nil {
		return nil, err
	}
	if s.mn != nil {
		h, err := s.mn.AddPeer(k, a)
		if err != nil {
			return nil, err
		}
		h.Network().Notify(cm.Notifee())
		return &managedHost{Host: h, cm: cm}, nil
	}
	return libp2p.New(
		libp2p.DisableMetrics(),
		libp2p.Identity(k),
		libp2p.ListenAddrs(a),
		libp2p.Transport(s.mem.Transport(k)),
		libp2p.ResourceManager(&network.NullResourceManager{}),
		libp2p.ConnectionManager(cm),
		libp2p.DisableRelay(),
		libp2p.Ping(true),
		libp2p.UserAgent("computemesh/meshnode"),
	)
}

// managedHost is a mocknet host with a connection manager, which a
// mocknet host lacks.
type managedHost struct {
	host.Host
	cm *connmgr.BasicConnMgr
}

func (h *managedHost) ConnManager() coreconnmgr.ConnManager { return h.cm }

func (h *managedHost) Close() error { return errors.Join(h.Host.Close(), h.cm.Close()) }

// conns is the mean and the most connections the started nodes' hosts
// hold now, and the connections opened so far (counted at both ends).
func (s *scaleNet) conns() (mean float64, most int, opened int64) {
	for _, n := range s.nodes {
		k := len(n.Mesh().Host().Network().Conns())
		mean += float64(k)
		most = max(most, k)
	}
	return mean / float64(max(1, len(s.nodes))), most, s.opened.Load()
}

// close closes every node (a few at once), then the mocknet.
func (s *scaleNet) close(t testing.TB) {
	s.watch.stop()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, n := range s.nodes {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := n.Close(); err != nil {
				t.Logf("closing %s: %v", n.ID(), err)
			}
		}()
	}
	wg.Wait()
	for _, h := range s.hosts[len(s.nodes):] { // never started
		_ = h.Close()
	}
	if s.mn != nil {
		_ = s.mn.Close()
	}
}

// bootstrap is node 0 and a random earlier node, so that not every node
// learns the mesh through the same peer.
func (s *scaleNet) bootstrap() []string {
	var boot []string
	if len(s.nodes) > 0 {
		boot = append(boot, s.nodes[0].Mesh().Addrs()[0].String())
	}
	if len(s.nodes) > 2 {
		boot = append(boot, s.nodes[1+s.rng.IntN(len(s.nodes)-1)].Mesh().Addrs()[0].String())
	}
	return boot
}

// start starts node i on its host.
func (s *scaleNet) start(t testing.TB, i int) *Node {
	t.Helper()
	cfg := Config{Mode: ModeClient, Network: scaleNetwork, Bootstrap: s.bootstrap(), Host: s.hosts[i], GCInterval: -1}
	if !s.spec.clientAt(i) {
		regions := []string{"eu-west", "us-east", "ap-south", "eu-central"}
		cfg.Mode, cfg.Hardware, cfg.Region = ModeProvider, testHardware(t), regions[i%len(regions)]
		cfg.Rates = job.Rates{CPUHour: job.Nano * job.Credits(1+i%7) / 10}
		cfg.Capacity = job.Resources{CPUMillis: 1000, MemoryBytes: 1 << 30}
	}
	n, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("node %d of %d: %v", i, s.spec.nodes, err)
	}
	s.nodes = append(s.nodes, n)
	if cfg.Mode == ModeClient {
		s.clients = append(s.clients, n)
	} else {
		s.watch.started(n)
	}
	return n
}

// build starts the mesh but its joiners, one node after another; it
// returns once every provider has announced its capabilities.
func (s *scaleNet) build(t testing.TB) {
	t.Helper()
	start, cpu0 := time.Now(), cpuTime()
	for i := range s.spec.nodes - s.spec.joiners {
		s.start(t, i)
		if (i+1)%50 == 0 {
			s.progress("%d nodes started in %v (%.0f CPU-s, load average %s)", i+1, time.Since(start).Round(time.Second), (cpuTime() - cpu0).Seconds(), loadAvg())
		}
	}
	s.waitAnnounced(t, s.nodes)
}

// progress tells how a long run goes, on standard error where asked.
func (s *scaleNet) progress(format string, args ...any) {
	if s.verbose {
		fmt.Fprintf(os.Stderr, "scale: "+format+"\n", args...)
	}
}

// waitAnnounced waits (generously: a loaded machine) until every provider
// among ns has its capabilities on the DHT.
func (s *scaleNet) waitAnnounced(t testing.TB, ns []*Node) {
	t.Helper()
	deadline := time.After(10 * time.Minute)
	for i, n := range ns {
		select {
		case <-n.Announced():
		case <-deadline:
			t.Fatalf("node %d had not announced its capabilities after 10 min", i)
		}
	}
}

// join starts the watchers and waits (findWait at most) until they have
// verified every provider's record, then starts the joiners, one every
// joinEvery, and waits (findWait at most) until the watchers have theirs.
func (s *scaleNet) join(t testing.TB) []peer.ID {
	t.Helper()
	for i, n := range s.clients[1 : 1+s.spec.watchers] { // after node 0
		s.watch.run(n, time.Duration(i)*lookEvery/time.Duration(s.spec.watchers))
	}
	s.waitFound(s.spec.findWait)
	s.progress("the watchers hold the records of %d of %d providers; joining", len(s.providers())-s.watch.missing(s.providers()), len(s.providers()))
	var ids []peer.ID
	for i := s.spec.nodes - s.spec.joiners; i < s.spec.nodes; i++ {
		next := time.Now().Add(s.spec.joinEvery)
		ids = append(ids, s.start(t, i).ID())
		time.Sleep(time.Until(next))
	}
	s.progress("%d joiners started", len(ids))
	s.waitAnnounced(t, s.nodes)
	s.waitFound(s.spec.findWait)
	s.watch.stop()
	s.progress("the watchers hold the records of %d of %d providers", len(s.providers())-s.watch.missing(s.providers()), len(s.providers()))
	return ids
}

// waitFound waits, max at most, until the watchers have verified every
// provider's record.
func (s *scaleNet) waitFound(max time.Duration) {
	deadline := time.Now().Add(max)
	for time.Now().Before(deadline) && s.watch.missing(s.providers()) > 0 {
		time.Sleep(100 * time.Millisecond)
	}
}

// providers are the IDs of the provider nodes started so far.
func (s *scaleNet) providers() []peer.ID {
	var ids []peer.ID
	for _, n := range s.nodes {
		if !slices.Contains(s.clients, n) {
			ids = append(ids, n.ID())
		}
	}
	return ids
}

// jobResult is what the submitted jobs did.
type jobResult struct {
	submitted, completed int
	took, auction        []time.Duration
	bids, candidates     []int
	failed               []string
}

// submit has the clients that are not watchers (all of them if there are
// none other) submit the tiny job, spec.parallel at once, spec.jobs in all.
func (s *scaleNet) submit(t testing.TB) jobResult {
	t.Helper()
	subs := slices.Delete(slices.Clone(s.clients), 1, min(1+s.spec.watchers, len(s.clients)-1))
	sub := Submission{Module: tiny.Module(), Spec: &job.Spec{
		Executor: job.ExecutorWASM, Module: job.ModuleCID(tiny.Module()).String(), Name: "tiny.wasm",
		Resources: job.Resources{CPUMillis: 1, MemoryBytes: 64 << 20}, TimeoutMS: 10_000, Policy: job.PolicyCost,
	}}
	var (
		mu  sync.Mutex
		res = jobResult{submitted: s.spec.jobs}
		wg  sync.WaitGroup
		sem = make(chan struct{}, max(1, s.spec.parallel))
	)
	for i := range s.spec.jobs {
		c := subs[i%len(subs)]
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			start := time.Now()
			var bids, rejected atomic.Int64
			progress := func(e job.Event) {
				switch e.Kind {
				case job.EventBid:
					bids.Add(1)
				case job.EventRejected:
					rejected.Add(1)
				case job.EventLog, job.EventDecline:
				default: // how a slow job went, round by round
					s.progress("job %d at %v: %s %d %q (bids so far %d, rejected %d)", i, e.Elapsed.Round(time.Millisecond), e.Kind, e.Count, e.Message, bids.Load(), rejected.Load())
				}
			}
			out, err := c.Submit(ctx, sub, progress)
			s.progress("job %d: %v in %v", i, err, time.Since(start).Round(time.Millisecond))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				res.failed = append(res.failed, err.Error())
			case out.State != job.StateCompleted:
				res.failed = append(res.failed, fmt.Sprintf("%s: %s", out.State, out.Error))
			default:
				res.completed++
				res.took = append(res.took, time.Since(start))
				res.auction = append(res.auction, time.Duration(out.Timings.Auction)*time.Millisecond)
				res.bids, res.candidates = append(res.bids, out.Bids), append(res.candidates, out.Candidates)
			}
		}()
	}
	wg.Wait()
	return res
}

// memSample is the process's memory at one moment, after a collection.
type memSample struct {
	heap, rss  uint64 // bytes: live heap (HeapInuse), resident set
	goroutines int
}

func sampleMem() memSample {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memSample{heap: ms.HeapInuse, rss: procstat.RSS(), goroutines: runtime.NumGoroutine()}
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loadAvg is the machine's 1-minute load average ("" where unknown): the
// machine is shared, and what else runs shows in every figure.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	return strings.Fields(string(b) + " ?")[0]
}

// TestScale is a small scale run on mocknet: 30 whole nodes (6 clients, 2
// of them watching), the last 5 providers joining the formed mesh. Every
// provider's announcement must be found by a watcher's look-up with its
// verified record, and every job must complete. How soon is logged, never
// asserted; BenchmarkScale measures it at 500 nodes.
func TestScale(t *testing.T) {
	spec := scaleSpec{nodes: 30, clients: 6, watchers: 2, joiners: 5, joinEvery: 200 * time.Millisecond,
		jobs: 4, parallel: 2, findWait: 2 * time.Minute}
	s := newScaleNet(t, spec)
	s.build(t)
	joined := s.join(t)
	f := s.watch.report(s.providers(), joined)
	t.Logf("%s", f)
	if f.missing > 0 {
		t.Fatalf("%d of %d providers were never found by a watcher's look-up with a verified record in %v", f.missing, f.all, spec.findWait)
	}
	res := s.submit(t)
	if res.completed != res.submitted {
		t.Fatalf("%d of %d jobs completed; failures: %v", res.completed, res.submitted, res.failed)
	}
	t.Logf("jobs: %d of %d completed, candidates %v, bids %v", res.completed, res.submitted, res.candidates, res.bids)
}
