package unixfs_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/computemesh/computemesh/unixfs"
	"github.com/ipfs/boxo/ipld/merkledag"
	ufs "github.com/ipfs/boxo/ipld/unixfs"
	ipld "github.com/ipfs/go-ipld-format"
)

// List and Resolve read a tree; a directory with an entry no file system
// could hold (a name past 255 bytes, "..", a separator) is refused whole.
func TestListAndResolve(t *testing.T) {
	d := newDAG(t)
	ctx := t.Context()
	file, _, err := d.AddFile(ctx, bytes.NewReader([]byte("hello")))
	if err != nil {
		t.Fatal(err)
	}
	dir := func(names ...string) *merkledag.ProtoNode {
		pn := merkledag.NodeWithData(ufs.FolderPBData())
		if err := pn.SetCidBuilder(v1pb); err != nil {
			t.Fatal(err)
		}
		for _, name := range names {
			if err := pn.AddRawLink(name, &ipld.Link{Cid: file, Size: 5}); err != nil {
				t.Fatal(err)
			}
		}
		if err := dagOf(d).Add(ctx, pn); err != nil {
			t.Fatal(err)
		}
		return pn
	}
	good := dir("a.txt", "b.txt")
	es, err := d.List(ctx, good.Cid())
	if err != nil || len(es) != 2 || es[0].Name != "a.txt" || es[0].Dir || es[0].Size != 5 {
		t.Fatalf("List: %+v, %v", es, err)
	}
	if c, err := d.Resolve(ctx, good.Cid(), "/b.txt"); err != nil || c != file {
		t.Fatalf("Resolve b.txt: %v, %v", c, err)
	}
	for _, p := range []string{"c.txt", "a.txt/x", "..", "./a.txt"} {
		if _, err := d.Resolve(ctx, good.Cid(), p); !errors.Is(err, unixfs.ErrNoPath) {
			t.Errorf("Resolve %q: %v, want ErrNoPath", p, err)
		}
	}
	for _, name := range []string{strings.Repeat("n", unixfs.MaxName+1), "..", "a/b"} {
		if _, err := d.List(ctx, dir("ok", name).Cid()); !errors.Is(err, unixfs.ErrUnsupported) {
			t.Errorf("List of a directory with an entry named %.20q: %v, want ErrUnsupported", name, err)
		}
	}
}
