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

	"github.com/computemesh/computemesh/content"
	"github.com/computemesh/computemesh/internal/kubofixture"
	"github.com/computemesh/computemesh/job"
	"github.com/ipfs/go-cid"
)

// Inputs travel by CID to the winner alone, outputs come back by CID to the
// client alone.
func TestEndToEndInputsAndOutputs(t *testing.T) {
	t.Parallel()
	client, provs := testMesh(t, []provSpec{{"eu-west", "0.5"}, {"us-east", "0.9"}})
	in, err := client.Store().Put([]byte("shout"), cid.Raw)
	if err != nil {
		t.Fatal(err)
	}
	sub := guestSpec(t, "upper")
	sub.Spec.Inputs = []job.Input{{Name: "in.txt", CID: in.String()}}
	out := submit(t, client, sub, nil)
	if out.State != job.StateCompleted || out.Outputs == "" {
		t.Fatalf("state %s, outputs %q: %s (stderr %q)", out.State, out.Outputs, out.Error, out.Stderr)
	}
	mc, err := job.ParseCID(out.Outputs)
	if err != nil {
		t.Fatal(err)
	}
	dir := exportOutputs(t, client, mc)
	if b, err := os.ReadFile(filepath.Join(dir, "upper.txt")); err != nil || string(b) != "SHOUT" {
		t.Fatalf("output upper.txt: %q, %v", b, err)
	}

	// Another provider, not awarded the job, may fetch neither the input
	// from the client nor the output from the winner.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := provs[1].Mesh().FetchBlob(ctx, client.ID(), in.String(), 0); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("a provider that did not win fetched the input: %v", err)
	}
	if _, err := provs[1].Mesh().FetchBlob(ctx, provs[0].ID(), out.Outputs, 0); err == nil {
		t.Fatal("another provider fetched the job's outputs from the winner")
	}

	// An input the client does not hold, and no mesh node announced, is
	// refused before anything is sent (once the look-up's 10 s pass).
	sub.Spec.Inputs = []job.Input{{Name: "missing", CID: job.ModuleCID([]byte("absent")).String()}}
	lctx, lcancel := context.WithTimeout(context.Background(), time.Minute)
	defer lcancel()
	if _, err := client.Submit(lctx, sub, nil); !errors.Is(err, ErrBadSubmission) {
		t.Fatalf("missing input: %v, want ErrBadSubmission", err)
	}
}

// A submission may name its module without its bytes when this node holds
// it (meshnode submit --data-dir stores it there first): the module comes
// from the node's store, checked against its CID. A module the node does
// not hold, or whose stored bytes were changed, is refused before anything
// is sent, naming the module and the store.
func TestModuleByReference(t *testing.T) {
	t.Parallel()
	client, _ := testMesh(t, []provSpec{{"eu-west", "0.5"}})
	sub := helloSpec(t, nil)
	mod := sub.Module
	mc, err := client.Store().Put(mod, cid.Raw)
	if err != nil || mc.String() != sub.Spec.Module {
		t.Fatalf("Put = %s, %v; want %s", mc, err, sub.Spec.Module)
	}
	byRef := sub
	byRef.Module = nil
	if out := submit(t, client, byRef, nil); out.State != job.StateCompleted {
		t.Fatalf("by reference: state %s: %s (stderr %q)", out.State, out.Error, out.Stderr)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	absent := byRef
	spec := *byRef.Spec
	spec.Module = job.ModuleCID([]byte("\x00asm\x01\x00\x00\x00absent")).String()
	absent.Spec = &spec
	_, err = client.Submit(ctx, absent, nil)
	if !errors.Is(err, ErrBadSubmission) || !strings.Contains(err.Error(), spec.Module) || !strings.Contains(err.Error(), "store") {
		t.Fatalf("a module the node does not hold: %v; want ErrBadSubmission naming it and the store", err)
	}

	// Bytes changed in the store under the module's CID: refused, not run.
	other := guestSpec(t)
	ob := moduleSpec(t, append(append([]byte(nil), other.Module...), 0), "other.wasm") // a module this client never cached
	if _, err := client.Store().Put(ob.Module, cid.Raw); err != nil {
		t.Fatal(err)
	}
	omc, _ := cid.Decode(ob.Spec.Module)
	if err := os.WriteFile(filepath.Join(client.Store().Dir(), omc.String()), other.Module, 0o600); err != nil {
		t.Fatal(err)
	}
	ob.Module = nil
	if _, err := client.Submit(ctx, ob, nil); !errors.Is(err, ErrBadSubmission) {
		t.Fatalf("a module whose stored bytes changed: %v; want ErrBadSubmission", err)
	}
}

// exportOutputs writes the outputs c, held in n's store, to a new
// directory and returns it.
func exportOutputs(t *testing.T, n *Node, c cid.Cid) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "outputs")
	if err := n.content.Export(context.Background(), c, dir, content.OutputsBudget(0)); err != nil {
		t.Fatalf("the outputs %s: %v", c, err)
	}
	return dir
}

// A tree of inputs (a file of several chunks, directories, an empty file)
// goes from the client to the provider as UnixFS, block by block, and
// comes back, copied by the job, as its outputs, byte for byte.
func TestEndToEndUnixFSTree(t *testing.T) {
	t.Parallel()
	client, _ := testMesh(t, []provSpec{{"eu-west", "0.5"}})
	dir := t.TempDir()
	files := map[string][]byte{"big.bin": kubofixture.Bytes(9, 3*kubofixture.ChunkSize+5), "a.txt": []byte("a\n"), "sub/b.txt": []byte("b\n"), "sub/deeper/empty": nil}
	if err := kubofixture.WriteTree(dir, files); err != nil {
		t.Fatal(err)
	}
	in, err := client.content.Add(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	sub := guestSpec(t, "copy")
	sub.Spec.Inputs = []job.Input{{Name: "tree", CID: in.String()}}
	out := submit(t, client, sub, nil)
	if out.State != job.StateCompleted || out.Outputs == "" {
		t.Fatalf("state %s, outputs %q: %s (stderr %q)", out.State, out.Outputs, out.Error, out.Stderr)
	}
	got := exportOutputs(t, client, mustCID(t, out.Outputs))
	for p, want := range files {
		b, err := os.ReadFile(filepath.Join(got, "tree", filepath.FromSlash(p)))
		if err != nil || !bytes.Equal(b, want) {
			t.Errorf("outputs tree/%s: %d bytes, want %d: %v", p, len(b), len(want), err)
		}
	}
}
