package content

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/computemesh/computemesh/internal/kubofixture"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/store"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// storeFetcher serves a peer the blobs of another content that it granted
// that peer, as the mesh's blob protocol does (FetchBlob's checks: size
// bound, bytes against the CID).
type storeFetcher struct {
	from *Content
	as   peer.ID // who asks
}

func (f storeFetcher) FetchBlob(_ context.Context, p peer.ID, c string, max int64) ([]byte, error) {
	id, err := job.ParseCID(c)
	if err != nil {
		return nil, err
	}
	if !f.from.Granted(f.as, c) {
		return nil, fmt.Errorf("fetching %s from %s: not found", c, p)
	}
	b, err := f.from.Store().Get(id)
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("fetching %s from %s: %d bytes, over %d", c, p, len(b), max)
	}
	return b, store.Verify(id, b)
}

// writeTree makes a tree of files (one of several chunks) under a new
// directory and returns it.
func writeTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	big := make([]byte, 3<<20+12345)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range big {
		big[i] = byte(r.Uint32())
	}
	files := map[string][]byte{"big.bin": big, "a.txt": []byte("alpha"), "sub/b.txt": []byte("beta"), "sub/deeper/c.txt": nil}
	if err := kubofixture.WriteTree(dir, files); err != nil {
		t.Fatal(err)
	}
	return dir
}

// sameTree fails t unless the regular files under a and b are the same.
func sameTree(t *testing.T, a, b string) {
	t.Helper()
	fa, err := store.WalkTree(a)
	if err != nil {
		t.Fatal(err)
	}
	fb, err := store.WalkTree(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(fa) != len(fb) {
		t.Fatalf("%d files under %s, %d under %s", len(fa), a, len(fb), b)
	}
	for _, f := range fa {
		x, _ := os.ReadFile(filepath.Join(a, f.Path))
		y, err := os.ReadFile(filepath.Join(b, f.Path))
		if err != nil || !bytes.Equal(x, y) {
			t.Fatalf("%s differs: %v", f.Path, err)
		}
	}
}

// A tree goes from one content to another block by block, only the blocks
// granted, and comes out as it went in; its bytes and files are spent from
// the budget.
func TestFetchTreeFromPeer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := newContent(t)
	dir := writeTree(t)
	root, err := src.Add(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	inputs := []job.Input{{Name: "data", CID: root.String()}}
	blobs, err := src.InputBlobs(inputs)
	if err != nil {
		t.Fatal(err)
	}
	if len(blobs) < 6 {
		t.Fatalf("%d blocks for a tree with a 3 MiB file and 3 directories", len(blobs))
	}
	s, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dst := New(s, storeFetcher{from: src, as: "provider"})

	// Nothing granted yet: the fetch fails, naming the peer.
	stage := t.TempDir()
	err = dst.StageInputs(ctx, "client", inputs, stage)
	if err == nil || !strings.Contains(err.Error(), "input data") || !strings.Contains(err.Error(), "from "+peer.ID("client").String()) {
		t.Fatalf("fetch without a grant: %v", err)
	}
	if ents, _ := os.ReadDir(stage); len(ents) != 0 {
		t.Fatalf("a failed fetch left %d entries in the inputs", len(ents))
	}

	src.Grant("provider", time.Now().Add(time.Minute), blobs...)
	if err := dst.StageInputs(ctx, "client", inputs, stage); err != nil {
		t.Fatal(err)
	}
	sameTree(t, dir, filepath.Join(stage, "data"))

	b := InputsBudget()
	if err := dst.Fetch(ctx, "client", root.String(), b); err != nil { // held now: nothing fetched
		t.Fatal(err)
	}
	st, err := dst.Stat(ctx, root, InputsBudget())
	if err != nil {
		t.Fatal(err)
	}
	if st.Bytes != 3<<20+12345+9 || st.Files != 4 || st.BlockBytes < st.Bytes {
		t.Fatalf("stat: %d bytes in %d files, %d of blocks", st.Bytes, st.Files, st.BlockBytes)
	}
	if want := MaxInputBytes - st.BlockBytes; b.bytes != want || b.files != MaxInputFiles-4 {
		t.Fatalf("budget left %d bytes and %d files, want %d and %d", b.bytes, b.files, want, MaxInputFiles-4)
	}
}

// A peer's tree over the fetch's budget is refused as the fetch reaches
// the limit, and a single file is refused by its declared size.
func TestFetchOverBudget(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := newContent(t)
	root := addGranted(t, src, writeTree(t), "client")
	s, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dst := New(s, storeFetcher{from: src, as: "client"})
	err = dst.Fetch(ctx, "provider", root.String(), OutputsBudget(1<<20))
	if !errors.Is(err, ErrOverBudget) {
		t.Fatalf("a 3 MiB tree within a 1 MiB budget: %v, want ErrOverBudget", err)
	}
}

// A single file of the earlier format (one raw blob over a block's 2 MiB)
// still travels whole.
func TestFetchEarlierFormatBlob(t *testing.T) {
	t.Parallel()
	src := newContent(t)
	big := bytes.Repeat([]byte("earlier "), 3<<20/8)
	id, err := src.Store().Put(big, cid.Raw)
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := src.InputBlobs([]job.Input{{Name: "old", CID: id.String()}})
	if err != nil {
		t.Fatal(err)
	}
	src.Grant("provider", time.Now().Add(time.Minute), blobs...)
	s, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dst := New(s, storeFetcher{from: src, as: "provider"})
	dir := t.TempDir()
	if err := dst.StageInputs(context.Background(), "client", []job.Input{{Name: "old", CID: id.String()}}, dir); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "old")); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("staged %d bytes, want %d: %v", len(got), len(big), err)
	}
}

// A client cannot get what the provider holds for someone else by naming
// its CID: every block of an input comes from the job's client, none from
// the provider's own store.
func TestStageInputsTakesNothingFromTheProvidersStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	empty := newContent(t) // the hostile client: holds nothing
	s, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	prov := New(s, storeFetcher{from: empty, as: "provider"})
	secret, err := prov.Add(ctx, writeTree(t)) // another client's input, kept here
	if err != nil {
		t.Fatal(err)
	}
	small, err := prov.Store().Put([]byte("a small secret"), cid.Raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []cid.Cid{secret, small} {
		dir := t.TempDir()
		err := prov.StageInputs(ctx, "hostile", []job.Input{{Name: "x", CID: id.String()}}, dir)
		if err == nil || !strings.Contains(err.Error(), "input x") {
			t.Fatalf("staging %s, held only by the provider: %v, want a failed fetch", id, err)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Fatalf("a hostile client got %d entries of another's input", len(ents))
		}
	}
}

// addGranted adds the tree dir to c, grants every block of it to p for a
// minute, and returns its root.
func addGranted(t *testing.T, c *Content, dir string, p peer.ID) cid.Cid {
	t.Helper()
	ctx := context.Background()
	root, err := c.Add(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.Stat(ctx, root, InputsBudget())
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, b := range st.Blocks {
		all = append(all, b.String())
	}
	c.Grant(p, time.Now().Add(time.Minute), all...)
	return root
}

// Outputs to publish come whole from the provider (FetchFrom): a provider
// naming the CID of a tree the client holds privately, without holding it,
// fails the fetch, so the client publishes nothing of its own; a provider
// that has them delivers them into the client's store.
func TestFetchFromTakesNothingLocal(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	prov := newContent(t) // holds nothing yet
	s, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	client := New(s, storeFetcher{from: prov, as: "client"})
	tree := writeTree(t)
	private, err := client.Add(ctx, tree)
	if err != nil {
		t.Fatal(err)
	}
	if err := client.FetchFrom(ctx, "provider", private.String(), OutputsBudget(16<<20)); err == nil {
		t.Fatal("a provider holding nothing delivered the client's private tree as its outputs")
	}
	root := addGranted(t, prov, tree, "client") // now the provider has it (the same tree)
	if root != private {
		t.Fatalf("the same tree: %s, %s", root, private)
	}
	if err := client.FetchFrom(ctx, "provider", root.String(), OutputsBudget(16<<20)); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(filepath.Join(s.Dir(), stagingDir)); len(ents) != 0 {
		t.Fatalf("%d stores of their own left behind", len(ents))
	}
}
