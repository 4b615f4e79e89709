package testnet

import (
	"bufio"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/examples/hello"
	"github.com/computemesh/computemesh/job"
	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"
)

// BenchmarkDevnetFlood floods a devnet (meshnode processes on 127.0.0.1: two
// bootstrap nodes, four providers, a client) with 30,000 valid job requests
// at 600/s from a peer in this process, while hello jobs are submitted one
// after another through the client with `meshnode submit` (the CLI, as a
// user would). keys=1: the flooding peer's own key, funded by the test
// faucet, connected to every provider, taking its bids on a stream as a
// client does (and throwing them away);
// keys=100: 100 keys of peers that are not there, all published by the one
// peer (one IP), holding no credits; no-credits: the same on a network
// without credits (no faucet: nothing tells the keys apart). It reports the CLI's p50 when quiet and during the flood,
// and the resident memory (VmRSS) of each provider process, settled: the
// least of a sample a second over 150 s before the flood and over 150 s
// from 30 s after it stopped (past the losing bids' grace and GossipSub's
// sweep of seen message IDs; each window holds one of the collections the
// runtime forces every 2 minutes). A fresh devnet for each case. See docs/BENCHMARKS.md.
func BenchmarkDevnetFlood(b *testing.B) {
	bin := buildMeshnode(b)
	for _, c := range []struct {
		keys    int
		credits bool
	}{{1, true}, {100, true}, {100, false}} {
		name := fmt.Sprintf("keys=%d", c.keys)
		if !c.credits {
			name += ",no-credits"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				devnetFlood(b, bin, c.keys, c.credits)
			}
		})
	}
}

func devnetFlood(b *testing.B, bin string, nkeys int, credits bool) {
	requests := 30_000
	if n, err := strconv.Atoi(os.Getenv("COMPUTEMESH_FLOOD_REQUESTS")); err == nil && n > 0 {
		requests = n
	}
	const floodRate = 600 // requests/s: over the per-author rate (500/s)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	dir := b.TempDir()
	nodes := LocalNodes(4)
	for i := range nodes {
		nodes[i].NoCredits = !credits
	}
	l, err := StartLocal(ctx, bin, dir, nodes)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	provs := Providers(l)
	helloArgs := []string{"--wasm", l.JobPath(HelloModule), "--timeout", "10s"}
	// Every provider compiles the module before memory is first read.
	for _, warm := range [][]string{{"--region", "eu-west"}, {"--region", "eu-central"}, {"--region", "us-east"}, {"--gpus", "1", "--gpu-model", "a100"}} {
		for range 2 {
			if _, err := Submit(ctx, l, "client", append(append(slices.Clone(helloArgs), warm...), "--", "warm")...); err != nil {
				b.Fatalf("warm-up %v: %v", warm, err)
			}
		}
	}
	f := newDevnetFlooder(ctx, b, l, provs)
	if nkeys == 1 && credits {
		if _, err := l.Meshnode(ctx, "client", "grant", "--test-faucet", "--amount", "1000000", "--to", f.h.ID().String()); err != nil {
			b.Fatalf("funding the flooder: %v", err)
		}
	}
	keys := make([]crypto.PrivKey, nkeys)
	for i := range keys {
		keys[i], _, _ = crypto.GenerateEd25519Key(rand.Reader)
	}
	spec := &job.Spec{Executor: job.ExecutorWASM, Module: job.ModuleCID(hello.Module()).String(), Name: "hello.wasm",
		Resources: job.Resources{CPUMillis: 1000, MemoryBytes: 64 << 20}, TimeoutMS: 10_000, Policy: job.PolicyCost}

	failed := 0
	var node []float64 // the client node's submit → result of the phase's jobs (ms)
	p50 := func(stop func() bool) (time.Duration, int) {
		var d []time.Duration
		node = node[:0]
		var last time.Time
		for len(d) < 20 || (stop != nil && !stop()) {
			time.Sleep(time.Until(last.Add(100 * time.Millisecond)))
			last = time.Now()
			r, err := Submit(ctx, l, "client", append(slices.Clone(helloArgs), "--", "hi")...)
			if err != nil {
				failed++ // a job lost in the flood
				b.Logf("honest job: %v", err)
				if ctx.Err() != nil {
					b.Fatal(ctx.Err())
				}
				continue
			}
			d = append(d, r.Wall)
			node = append(node, r.Timings.Total)
		}
		slices.Sort(d)
		slices.Sort(node)
		return d[len(d)/2], len(d)
	}
	quiet, _ := p50(nil)
	quietNode := node[len(node)/2]
	rss0, live0 := settledRSS(b, l, provs, 150*time.Second)
	all := make([]string, 0, len(l.Nodes()))
	for _, n := range l.Nodes() {
		all = append(all, n.Name)
	}
	cpu0 := cpuOf(b, l, all)
	heard0 := map[string]float64{}
	for _, p := range provs {
		heard0[p] = heard(b, l, p)
	}
	var done atomic.Bool
	start := time.Now()
	go func() {
		defer done.Store(true)
		tick := time.NewTicker(time.Second / floodRate * 10)
		defer tick.Stop()
		for i := range requests {
			if i%10 == 0 {
				<-tick.C
			}
			var err error
			if nkeys == 1 {
				err = f.request(ctx, f.h.ID(), spec)
			} else {
				k := keys[i%nkeys]
				id, _ := peer.IDFromPrivateKey(k)
				err = f.request(ctx, id, spec, pubsub.WithSecretKeyAndPeerId(k, id))
			}
			if err != nil {
				b.Error(err)
				return
			}
		}
	}()
	during, n := p50(done.Load)
	floodTime := time.Since(start)
	duringNode := node[len(node)/2]
	cpu1 := cpuOf(b, l, all)
	time.Sleep(30 * time.Second)
	var got []string
	least := float64(requests)
	for _, p := range provs {
		h := heard(b, l, p) - heard0[p]
		least = min(least, h)
		got = append(got, fmt.Sprintf("%s %.0f", p, h))
	}
	b.Logf("requests each provider took off the topic (answered, over rate or unfunded): %s", strings.Join(got, ", "))
	b.ReportMetric(least, "least-heard")
	rss1, live1 := settledRSS(b, l, provs, 150*time.Second)

	var mean, most, liveMean, liveMost float64
	for _, p := range provs {
		g, lg := rss1[p]-rss0[p], live1[p]-live0[p]
		mean += g / float64(len(provs))
		most = max(most, g)
		liveMean += lg / float64(len(provs))
		liveMost = max(liveMost, lg)
	}
	b.ReportMetric(float64(quiet)/1e6, "quiet-p50-ms")
	b.ReportMetric(float64(during)/1e6, "flood-p50-ms")
	b.ReportMetric(float64(during)/float64(quiet), "p50-ratio")
	b.ReportMetric(float64(requests)/floodTime.Seconds(), "flood-req/s")
	b.ReportMetric(quietNode, "quiet-node-p50-ms")
	b.ReportMetric(duringNode, "flood-node-p50-ms")
	b.ReportMetric(float64(failed), "honest-failed")
	b.ReportMetric(mean, "rss-growth-mean-MiB")
	b.ReportMetric(most, "rss-growth-max-MiB")
	b.ReportMetric(liveMean, "live-heap-growth-mean-MiB")
	b.ReportMetric(liveMost, "live-heap-growth-max-MiB")
	var mem, cpu []string
	for _, p := range provs {
		mem = append(mem, fmt.Sprintf("%s %.1f → %.1f (live heap %.1f → %.1f)", p, rss0[p], rss1[p], live0[p], live1[p]))
	}
	for _, n := range all {
		cpu = append(cpu, fmt.Sprintf("%s %.0f%%", n, 100*(cpu1[n]-cpu0[n])/floodTime.Seconds()))
	}
	b.Logf("settled RSS and live heap (MiB), before → after: %s", strings.Join(mem, ", "))
	b.Logf("CPU during the flood (of one core): %s", strings.Join(cpu, ", "))
	b.Logf("%d keys: %d requests in %v; %d honest jobs during it, %d failed", nkeys, requests, floodTime.Round(time.Millisecond), n, failed)
}

// devnetFlooder is a bare GossipSub peer that publishes job requests.
type devnetFlooder struct {
	h    host.Host
	jobs *pubsub.Topic
}

func newDevnetFlooder(ctx context.Context, b *testing.B, l *Local, provs []string) *devnetFlooder {
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { h.Close() })
	h.SetStreamHandler(protocol.ID("/computemesh/"+NetworkName+"/bids/1.0.0"), func(s network.Stream) {
		_, _ = io.Copy(io.Discard, s)
		_ = s.Close()
	})
	// A queue for bursts: with GossipSub's default (32 messages a peer) a
	// flooder on a busy machine drops part of its own flood on the way out.
	ps, err := pubsub.NewGossipSub(ctx, h, pubsub.WithPeerOutboundQueueSize(4096))
	if err != nil {
		b.Fatal(err)
	}
	tp, err := ps.Join("computemesh/" + NetworkName + "/jobs")
	if err != nil {
		b.Fatal(err)
	}
	ids, err := PeerIDs(ctx, l)
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range provs {
		id, err := peer.Decode(ids[p])
		if err != nil {
			b.Fatalf("peer ID of %s: %v", p, err)
		}
		addr := ma.StringCast(fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", l.ports[p]))
		if err := h.Connect(ctx, peer.AddrInfo{ID: id, Addrs: []ma.Multiaddr{addr}}); err != nil {
			b.Fatalf("connecting to %s: %v", p, err)
		}
	}
	for deadline := time.Now().Add(60 * time.Second); len(tp.ListPeers()) < len(provs); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("the flooder sees %d of %d providers on the jobs topic", len(tp.ListPeers()), len(provs))
		}
	}
	return &devnetFlooder{h: h, jobs: tp}
}

// request publishes a valid request of client (the message's author).
func (f *devnetFlooder) request(ctx context.Context, client peer.ID, s *job.Spec, opts ...pubsub.PubOpt) error {
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	r := job.NewRequest(job.NewID(s, client.String(), nonce).String(), client.String(), s, time.Now().Add(time.Second).UnixMilli())
	if err := f.jobs.Publish(ctx, job.Encode(r), opts...); err != nil {
		return fmt.Errorf("publishing: %w", err)
	}
	return nil
}

// cpuOf reads the CPU time (user + system, seconds) the named nodes'
// processes have used.
func cpuOf(b *testing.B, l *Local, names []string) map[string]float64 {
	out := map[string]float64{}
	for _, n := range names {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pidOf(b, l, n)))
		if err != nil {
			b.Fatal(err)
		}
		// The fields after the command's closing parenthesis: utime and
		// stime are the 12th and 13th of them, in clock ticks (100/s).
		f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
		ut, _ := strconv.ParseFloat(f[11], 64)
		st, _ := strconv.ParseFloat(f[12], 64)
		out[n] = (ut + st) / 100
	}
	return out
}

func pidOf(b *testing.B, l *Local, name string) int {
	l.mu.Lock()
	cmd := l.procs[name]
	l.mu.Unlock()
	if cmd == nil {
		b.Fatalf("%s is not running", name)
	}
	return cmd.Process.Pid
}

// settledRSS samples the named nodes' RSS once a second for d and returns
// each one's least: a Go process's RSS swings with its garbage collector,
// and the least over a window that holds a collection (the runtime forces
// one every 2 minutes at most) is what it keeps.
//
// It also returns each node's live heap as of its last GC at the end of
// the window (go_gc_heap_live_bytes of its /metrics, MiB): what it keeps.
func settledRSS(b *testing.B, l *Local, names []string, d time.Duration) (rss, live map[string]float64) {
	least := rssOf(b, l, names)
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(time.Second) {
		for n, v := range rssOf(b, l, names) {
			least[n] = min(least[n], v)
		}
	}
	live = map[string]float64{}
	for _, n := range names {
		live[n] = liveHeap(b, l, n)
	}
	return least, live
}

// liveHeap reads go_gc_heap_live_bytes (MiB) from a node's /metrics.
func liveHeap(b *testing.B, l *Local, name string) float64 {
	v, ok := lineValue(strings.NewReader(scrape(b, l, name)), "go_gc_heap_live_bytes ")
	if !ok {
		b.Fatalf("metrics of %s: no go_gc_heap_live_bytes", name)
	}
	return v / (1 << 20)
}

// heard is how many job requests a provider took off the jobs topic:
// answered (bid or decline), ignored over their author's rate, or ignored
// as unfunded — what the flood cost it, per its /metrics.
func heard(b *testing.B, l *Local, name string) float64 {
	body := scrape(b, l, name)
	var n float64
	for _, prefix := range []string{"computemesh_provider_answers_total{", "computemesh_gossip_over_rate_total ", "computemesh_gossip_unfunded_total "} {
		for line := range strings.Lines(body) {
			if !strings.HasPrefix(line, prefix) {
				continue
			}
			f := strings.Fields(line)
			if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
				n += v
			}
		}
	}
	return n
}

// scrape returns a node's /metrics.
func scrape(b *testing.B, l *Local, name string) string {
	dir := filepath.Join(l.dir, name)
	addr, err := os.ReadFile(filepath.Join(dir, api.AddrFile))
	if err != nil {
		b.Fatal(err)
	}
	tok, err := os.ReadFile(filepath.Join(dir, api.TokenFile))
	if err != nil {
		b.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+strings.TrimSpace(string(addr))+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatalf("metrics of %s: %v", name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.Fatalf("metrics of %s: %v", name, err)
	}
	return string(body)
}

// lineValue is the number after prefix on the first line of r that starts
// with it (a trailing " kB" dropped).
func lineValue(r io.Reader, prefix string) (float64, bool) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return v, err == nil
		}
	}
	return 0, false
}

// rssOf reads the resident memory (VmRSS, MiB) of the named nodes' processes.
func rssOf(b *testing.B, l *Local, names []string) map[string]float64 {
	out := map[string]float64{}
	for _, n := range names {
		fh, err := os.Open(fmt.Sprintf("/proc/%d/status", pidOf(b, l, n)))
		if err != nil {
			b.Fatal(err)
		}
		kb, _ := lineValue(fh, "VmRSS:")
		out[n] = kb / 1024
		fh.Close()
	}
	return out
}
