package node

import (
	"context"
	"crypto/rand"

	"slices"
	"strings"
	"testing"
	"time"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/mesh"
	"github.com/libp2p/go-libp2p/core/crypto"
)

// A 20-node mesh of real hosts on 127.0.0.1: some providers declare
// (simulated) H100s, some A100s, the rest no GPU.
func TestCapacityRecordsOnTwentyNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("20 nodes: skipped with -short")
	}
	ctx := context.Background()
	h100 := job.GPU{Vendor: "nvidia", Model: "NVIDIA H100 80GB HBM3", VRAMBytes: 80 << 30}
	a100 := job.GPU{Vendor: "nvidia", Model: "NVIDIA A100-SXM4-40GB", VRAMBytes: 40 << 30}
	var (
		boot  []string
		provs []*Node
		want  []string // peers with an H100
		liar  *Node
	)
	for i := range 19 {
		cfg := Config{
			Mode: ModeProvider, Region: []string{"eu-west", "us-east", "ap-south"}[i%3],
			Rates: job.Rates{CPUHour: job.Nano, GPUHour: 2 * job.Nano}, Bootstrap: boot, Network: "test-cap",
			Capacity: job.Resources{CPUMillis: 2000, MemoryBytes: 1 << 30}, Hardware: testHardware(t),
			RecordTTL: 15 * time.Second,
		}
		switch {
		case i%5 == 1:
			cfg.Simulated = &Simulated{GPUs: []job.GPU{h100, h100}}
		case i%5 == 2:
			cfg.Simulated = &Simulated{GPUs: []job.GPU{a100}}
		case i == 3:
			cfg.Simulated = &Simulated{Score: &job.Score{HashMBps: 1e6}} // claims a machine 500 times faster
		}
		n, err := New(ctx, cfg)
		if err != nil {
			t.Fatalf("provider %d: %v", i, err)
		}
		t.Cleanup(func() { n.Close() })
		if i == 0 {
			boot = []string{n.Mesh().Addrs()[0].String()}
		}
		if i%5 == 1 {
			want = append(want, n.ID().String())
		}
		if i == 3 {
			liar = n
		}
		provs = append(provs, n)
	}
	client, err := New(ctx, Config{Mode: ModeClient, Bootstrap: boot, Network: "test-cap", Ephemeral: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	slices.Sort(want)

	// Every provider's record reaches the DHT (a bound for a busy machine
	// running the race detector: it costs nothing where they arrive sooner).
	h100s := func() []string {
		var got []string
		for _, p := range client.FindProviders(ctx, job.Need{GPUModel: "h100"}) {
			if p.Error == "" && p.Mismatch == "" {
				got = append(got, p.Peer)
			}
		}
		slices.Sort(got)
		return got
	}
	var got []string
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		if got = h100s(); slices.Equal(got, want) {
			break
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("providers --gpu-model h100 found %v, want exactly %v", got, want)
	}

	// The explanation counts why the others do not match.
	all := client.FindProviders(ctx, job.Need{Executor: job.ExecutorWASM})
	for i := range all {
		if all[i].Record != nil {
			all[i].Mismatch = all[i].Record.Mismatch(job.Need{GPUs: 1, MinVRAM: 48 << 30})
		}
	}
	summary := api.Mismatches(all)
	for _, part := range []string{"of 19 providers match", "no GPU", "VRAM < 48GiB"} {
		if !strings.Contains(summary, part) {
			t.Errorf("summary %q lacks %q", summary, part)
		}
	}

	// A record forged by another key for a provider is refused, and the
	// provider's own record still stands.
	victim := provs[2]
	real, err := client.Mesh().GetCapacity(ctx, victim.ID())
	if err != nil {
		t.Fatal(err)
	}
	forged := *real
	forged.Seq++
	forged.GPUs = []job.GPU{h100, h100, h100, h100}
	attackerKey, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, err := mesh.SealCapacity(&forged, attackerKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Mesh().DHT().PutValue(ctx, mesh.CapacityKey(victim.ID()), b); err == nil || !strings.Contains(err.Error(), "signed by") {
		t.Fatalf("storing a forged record: %v; want a refusal naming the signer", err)
	}
	if got, err := client.Mesh().GetCapacity(ctx, victim.ID()); err != nil || len(got.GPUs) != len(real.GPUs) {
		t.Fatalf("after the forgery: %v, %d GPUs; want the provider's own record with %d", err, len(got.GPUs), len(real.GPUs))
	}

	// A job that needs an H100 goes only to a provider that has one.
	sub := helloSpec(t, func(s *job.Spec) { s.Resources.GPUs = 1; s.Resources.GPUModel = "h100" })
	out := submit(t, client, sub, nil)
	if out.State != job.StateCompleted || !slices.Contains(want, out.Provider) {
		t.Fatalf("GPU job: state %s on %s (%s); want it on one of %v", out.State, out.Provider, out.Error, want)
	}

	// The provider that claims a score it does not have fails the challenge;
	// an honest one passes.
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	res, err := client.Challenge(cctx, liar.ID())
	if err != nil {
		t.Fatal(err)
	}
	if res.Passed || !strings.Contains(res.Reason, "slower than claimed") {
		t.Fatalf("liar's challenge: %+v; want a failure for being slower than claimed", res)
	}
	// An honest answer is timed too: on a loaded machine (twenty nodes in
	// one process under the race detector) one can come late, so the
	// honest provider passes once in a few tries; the liar's claim is off
	// by far more than any load explains.
	for try := 1; ; try++ {
		res, err = client.Challenge(cctx, provs[4].ID())
		if err != nil {
			t.Fatal(err)
		}
		if res.Passed {
			break
		}
		if try == 5 {
			t.Fatalf("honest provider's challenge failed %d times, last: %+v", try, res)
		}
		t.Logf("honest provider's challenge, try %d: %s", try, res.Reason)
	}

	// A stopped provider is gone once its signed record expires (15 s TTL),
	// whatever the DHT's provider records say.
	gone := provs[1]
	gone.Close()
	var still bool
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
		still = slices.Contains(h100s(), gone.ID().String())
		if !still {
			break
		}
	}
	if still {
		t.Fatalf("stopped provider %s is still listed after its record's lifetime", gone.ID())
	}
	for _, p := range client.FindProviders(ctx, job.Need{GPUModel: "h100"}) {
		t.Logf("after stop: %s err=%q mismatch=%q", p.Peer, p.Error, p.Mismatch)
	}
	if got := h100s(); len(got) != len(want)-1 {
		t.Fatalf("after stopping one H100 provider: %d listed, want %d (%v)", len(got), len(want)-1, got)
	}
}

// A provider whose free capacity changes gossips its re-signed record; a
// client's cache picks it up without asking the DHT.
func TestCapacityChangesAreGossiped(t *testing.T) {
	t.Parallel()
	client, provs := testMesh(t, []provSpec{{"eu-west", "0.5"}, {"us-east", "0.9"}})
	out := submit(t, client, helloSpec(t, nil), nil)
	if out.State != job.StateCompleted {
		t.Fatalf("state %s: %s", out.State, out.Error)
	}
	before := client.client.CachedRecord(provs[0].ID())
	if before == nil {
		t.Fatal("the client has no record of the winner after the job")
	}
	// The run reserved and released capacity: within the rate limit (2 s)
	// plus slack, a newer record arrives by gossip.
	deadline := time.Now().Add(30 * time.Second)
	for {
		now := client.client.CachedRecord(provs[0].ID())
		if now != nil && now.Seq > before.Seq {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no newer record of %s arrived by gossip (seq still %d)", provs[0].ID(), before.Seq)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A provider that starts after a client gossips its first record as soon
// as it knows a peer on the capacity topic: the client holds the verified
// record and lists the provider among those it has heard of (Client.Heard,
// which a job's candidates include) without looking anything up on the
// DHT; a need the record cannot serve leaves it out.
func TestNewProviderIsHeardByGossip(t *testing.T) {
	t.Parallel()
	client, provs := testMesh(t, []provSpec{{"eu-west", "0.5"}})
	late, err := New(context.Background(), Config{
		Mode: ModeProvider, Region: "us-east", Rates: job.Rates{CPUHour: job.Nano}, Network: "test",
		Bootstrap: []string{provs[0].Mesh().Addrs()[0].String(), client.Mesh().Addrs()[0].String()},
		Capacity:  job.Resources{CPUMillis: 1000, MemoryBytes: 1 << 30}, Hardware: testHardware(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { late.Close() })
	deadline := time.Now().Add(60 * time.Second)
	for !slices.Contains(client.client.Heard(job.Need{Region: "us-*"}), late.ID()) {
		if time.Now().After(deadline) {
			t.Fatalf("the client has not heard of the provider that started after it (record held: %v)", client.client.CachedRecord(late.ID()) != nil)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if slices.Contains(client.client.Heard(job.Need{Region: "eu-*"}), late.ID()) {
		t.Fatal("a provider in us-east is heard of for a job that wants eu-*")
	}
}
