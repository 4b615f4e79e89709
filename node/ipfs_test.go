package node

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/computemesh/computemesh/internal/kubofixture"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/unixfs"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// ipfsNode is an IPFS node on 127.0.0.1 outside the mesh: a plain libp2p
// host with a blockstore in kubo's layout and Bitswap serving every block.
// It returns the node's address (.../p2p/ID) and the DAG of its blocks
// (fetching what it lacks over its Bitswap).
func ipfsNode(t *testing.T) (string, *unixfs.DAG) {
	t.Helper()
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableRelay())
	if err != nil {
		t.Fatal(err)
	}
	bs, err := unixfs.OpenBlockstore(filepath.Join(t.TempDir(), "blocks"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ex := unixfs.NewBitswap(ctx, h, bs, nil, func(peer.ID, cid.Cid) bool { return true })
	t.Cleanup(func() {
		ex.Close()
		cancel()
		h.Close()
		bs.Close()
	})
	addr := h.Addrs()[0].Encapsulate(ma.StringCast("/p2p/" + h.ID().String()))
	return addr.String(), unixfs.New(bs, unixfs.WithExchange(ex))
}

// An ipfs:// input (a CID the client does not hold) is fetched by the
// provider over Bitswap from an IPFS node it keeps connected to
// (--ipfs-peer), and reaches the job whole (a CID no one holds:
// content's TestIPFSInputs).
func TestEndToEndIPFSInput(t *testing.T) {
	t.Parallel()
	addr, dag := ipfsNode(t)
	src := t.TempDir()
	if err := kubofixture.WriteTrees(src); err != nil {
		t.Fatal(err)
	}
	tree := kubofixture.Trees()["tree"]
	root, err := dag.AddTree(context.Background(), filepath.Join(src, "trees", "tree"))
	if err != nil {
		t.Fatal(err)
	}
	client, provs := meshOf(t, "test-ipfs-input",
		Config{Region: "eu-west", Rates: job.Rates{CPUHour: job.Nano}, IPFSPeers: []string{addr}})
	sub := guestSpec(t, "copy")
	sub.Spec.Inputs = []job.Input{{Name: "tree", CID: root.String(), Source: job.SourceIPFS}}
	out := submit(t, client, sub, nil)
	if out.State != job.StateCompleted || out.Outputs == "" {
		t.Fatalf("state %s, outputs %q: %s (stderr %q)", out.State, out.Outputs, out.Error, out.Stderr)
	}
	if out.Provider != provs[0].ID().String() {
		t.Fatalf("ran on %s", out.Provider)
	}
	got := exportOutputs(t, client, mustCID(t, out.Outputs))
	for p, want := range tree {
		if strings.HasSuffix(p, "/") {
			continue // an empty directory: os.CopyFS makes it, export keeps it
		}
		b, err := os.ReadFile(filepath.Join(got, "tree", filepath.FromSlash(p)))
		if err != nil || !bytes.Equal(b, want) {
			t.Errorf("outputs tree/%s: %d bytes, want %d: %v", p, len(b), len(want), err)
		}
	}
}

// An ipfs input with a region constraint is refused before it is
// published: Bitswap would ask peers anywhere for its CID.
func TestIPFSInputNotWithRegion(t *testing.T) {
	t.Parallel()
	s := guestSpec(t, "copy").Spec
	s.Inputs = []job.Input{{Name: "x", CID: job.ModuleCID([]byte("x")).String(), Source: job.SourceIPFS}}
	s.Region = "eu-*"
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "inputs[0].source") {
		t.Fatalf("ipfs input with a region: %v", err)
	}
}

// Published outputs (--publish): the provider and the client announce
// them and serve them to anyone, so another mesh node fetches them by CID
// alone, and so does an IPFS node connected to the provider; outputs not
// published reach no one but the client.
func TestEndToEndPublish(t *testing.T) {
	t.Parallel()
	client, provs := meshOf(t, "test-publish", Config{Region: "eu-west", Rates: job.Rates{CPUHour: job.Nano}})
	sub := guestSpec(t, "write", "/outputs/out.txt")
	sub.Spec.Publish = true
	out := submit(t, client, sub, nil)
	if out.State != job.StateCompleted || out.Outputs == "" {
		t.Fatalf("state %s, outputs %q: %s", out.State, out.Outputs, out.Error)
	}
	other, err := New(context.Background(), Config{Mode: ModeClient, Network: "test-publish", Ephemeral: true,
		Bootstrap: []string{provs[0].Mesh().Addrs()[0].String()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := other.FetchPublic(ctx, out.Outputs)
	if err != nil || st.Files != 1 {
		t.Fatalf("another node fetching the published outputs: %+v, %v", st, err)
	}
	got := exportOutputs(t, other, mustCID(t, out.Outputs))
	if b, err := os.ReadFile(filepath.Join(got, "out.txt")); err != nil || string(b) != "written by guest" {
		t.Fatalf("published out.txt: %q, %v", b, err)
	}

	addr, dag := ipfsNode(t)
	ai, err := peer.AddrInfoFromString(addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := provs[0].Mesh().Host().Connect(ctx, *ai); err != nil {
		t.Fatal(err)
	}
	if err := dag.Fetch(ctx, mustCID(t, out.Outputs), unixfs.DefaultLimits()); err != nil {
		t.Fatalf("an IPFS node connected to the provider fetching the outputs: %v", err)
	}

	// Not published: the client's alone.
	sub.Spec.Publish, sub.Spec.Args = false, []string{"write", "/outputs/private.txt"}
	out = submit(t, client, sub, nil)
	if out.State != job.StateCompleted || out.Outputs == "" {
		t.Fatalf("state %s, outputs %q: %s", out.State, out.Outputs, out.Error)
	}
	short, cancelShort := context.WithTimeout(ctx, 5*time.Second)
	defer cancelShort()
	if err := dag.Fetch(short, mustCID(t, out.Outputs), unixfs.DefaultLimits()); err == nil {
		t.Fatal("an IPFS node fetched outputs that were not published")
	}
	if provs[0].content.Granted(other.ID(), out.Outputs) {
		t.Fatal("outputs not published are granted to another node")
	}
}

// Publishing with a region constraint is refused before anything is
// published: DHT records land on peers in any region.
func TestPublishNotWithRegion(t *testing.T) {
	t.Parallel()
	s := guestSpec(t, "hello").Spec
	s.Publish, s.NotRegions = true, []string{"us-*"}
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "publish") {
		t.Fatalf("publish with not_regions: %v", err)
	}
}

// A job goes to its data: its IPFS input published at one provider, the
// latency policy picks that provider, farther though it is (10 ms of
// delay against another's none), for the other would first have to fetch
// the input (the bids say how much of it each holds); the cost policy
// picks the cheaper other, which fetches the input from the holder.
func TestEndToEndJobGoesToItsData(t *testing.T) {
	t.Parallel()
	rates := func(nano int64) job.Rates { return job.Rates{CPUHour: job.Credits(nano) * job.Nano} }
	client, provs := meshOf(t, "test-locality",
		Config{Region: "eu-west", Rates: rates(1)},
		Config{Region: "us-east", Rates: rates(3), Delay: 10 * time.Millisecond})
	near := provs[1]
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "data.bin"), kubofixture.Bytes(11, 12<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	root, err := near.content.Add(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := near.content.Stat(context.Background(), root, near.content.FetchBudget())
	if err != nil {
		t.Fatal(err)
	}
	var blocks []string
	for _, b := range st.Blocks {
		blocks = append(blocks, b.String())
	}
	near.publish(root.String(), blocks)

	sub := guestSpec(t, "copy")
	sub.Spec.Inputs = []job.Input{{Name: "data", CID: root.String(), Source: job.SourceIPFS}}
	sub.Spec.Policy = job.PolicyLatency
	out := submit(t, client, sub, nil)
	if out.State != job.StateCompleted || out.Provider != near.ID().String() {
		t.Fatalf("latency policy: state %s on %s (%s), want completed on the data's holder %s", out.State, out.Provider, out.Error, near.ID())
	}
	sub.Spec.Policy = job.PolicyCost
	out = submit(t, client, sub, nil)
	if out.State != job.StateCompleted || out.Provider != provs[0].ID().String() {
		t.Fatalf("cost policy: state %s on %s (%s), want completed on the cheaper %s", out.State, out.Provider, out.Error, provs[0].ID())
	}
}

// What a client published is served again after it restarts: its pin says
// so (store.PinPublished); what it pinned without publishing is not.
func TestPublishedAfterRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := Config{Mode: ModeClient, Network: "test-republish", DataDir: dir, Listen: []string{"/ip4/127.0.0.1/tcp/0"}}
	n, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	if err := kubofixture.WriteTree(src, map[string][]byte{"a.txt": []byte("public\n")}); err != nil {
		t.Fatal(err)
	}
	root, err := n.content.Add(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.store.PinPublished(root); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	if err := kubofixture.WriteTree(other, map[string][]byte{"b.txt": []byte("mine\n")}); err != nil {
		t.Fatal(err)
	}
	private, err := n.content.Add(context.Background(), other)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.store.Pin(private); err != nil { // added, not published
		t.Fatal(err)
	}
	n.Close()
	n, err = New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	if !n.content.Granted("anyone", root.String()) {
		t.Fatal("published content not served after a restart")
	}
	if n.content.PublicBytes([]string{root.String()}) != int64(len("public\n")) {
		t.Fatal("published content's bytes not known after a restart")
	}
	if n.content.Granted("anyone", private.String()) {
		t.Fatal("content pinned, not published, is served to anyone after a restart")
	}
}

// An input given by a bare CID that the client does not hold comes from
// the mesh nodes that announced it (here another client's published
// outputs), over Bitswap; one that no node announced is refused, and so
// is one with a region constraint, before anything is looked up.
func TestEndToEndInputFromTheMesh(t *testing.T) {
	t.Parallel()
	client, provs := meshOf(t, "test-mesh-input", Config{Region: "eu-west", Rates: job.Rates{CPUHour: job.Nano}})
	sub := guestSpec(t, "write", "/outputs/out.txt")
	sub.Spec.Publish = true
	out := submit(t, client, sub, nil)
	if out.State != job.StateCompleted || out.Outputs == "" {
		t.Fatalf("state %s, outputs %q: %s", out.State, out.Outputs, out.Error)
	}
	other, err := New(context.Background(), Config{Mode: ModeClient, Network: "test-mesh-input", Ephemeral: true,
		Bootstrap: []string{provs[0].Mesh().Addrs()[0].String()}, HeartbeatTimeout: testHeartbeatTimeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	wctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := other.Mesh().WaitProviders(wctx, 1); err != nil {
		t.Fatal(err)
	}
	if other.Store().Has(mustCID(t, out.Outputs)) {
		t.Fatal("the other client holds the outputs already")
	}
	// The announcement is made in the background: wait until the DHT
	// has it (a submission looks for 10 s, which a loaded machine may
	// take to announce).
	for {
		if ok, _ := other.announced(wctx, mustCID(t, out.Outputs)); ok {
			break
		}
		if wctx.Err() != nil {
			t.Fatal("the published outputs were never announced on the DHT")
		}
	}

	use := guestSpec(t, "copy")
	use.Spec.Inputs = []job.Input{{Name: "pub", CID: out.Outputs}}
	got := submit(t, other, use, nil)
	if got.State != job.StateCompleted || got.Outputs == "" {
		t.Fatalf("a job on another client's published outputs: state %s: %s (stderr %q)", got.State, got.Error, got.Stderr)
	}
	dir := exportOutputs(t, other, mustCID(t, got.Outputs))
	if b, err := os.ReadFile(filepath.Join(dir, "pub", "out.txt")); err != nil || string(b) != "written by guest" {
		t.Fatalf("pub/out.txt: %q, %v", b, err)
	}
	if use.Spec.Inputs[0].Source != job.SourceClient {
		t.Fatal("the caller's spec was changed")
	}

	nobody := job.ModuleCID([]byte("held by no one")).String()
	use.Spec.Inputs = []job.Input{{Name: "x", CID: nobody}}
	if _, err := other.Submit(wctx, use, nil); !errors.Is(err, ErrBadSubmission) || !strings.Contains(err.Error(), "no mesh node announced it") {
		t.Fatalf("an input no one holds: %v", err)
	}
	use.Spec.Region = "eu-*"
	if _, err := other.Submit(wctx, use, nil); !errors.Is(err, ErrBadSubmission) || !strings.Contains(err.Error(), "takes its inputs from its client alone") {
		t.Fatalf("an input not held here, with a region constraint: %v", err)
	}
}
