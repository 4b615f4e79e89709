package unixfs_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/computemesh/computemesh/unixfs"
	"github.com/ipfs/boxo/ipld/merkledag"
	ufs "github.com/ipfs/boxo/ipld/unixfs"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

var v1pb = cid.V1Builder{Codec: cid.DagProtobuf, MhType: 0x12}

// exportRefused exports c into a fresh directory and checks that it fails
// with want and leaves nothing behind.
func exportRefused(t *testing.T, d *unixfs.DAG, ctx context.Context, c cid.Cid, lim unixfs.Limits, want error) {
	t.Helper()
	parent := t.TempDir()
	err := d.Export(ctx, c, filepath.Join(parent, "out"), lim)
	if !errors.Is(err, want) {
		t.Fatalf("export: %v, want %v", err, want)
	}
	if ents, _ := os.ReadDir(parent); len(ents) > 0 {
		t.Fatalf("a refused export left %s", ents[0].Name())
	}
}

// A file node of 174 links to one 256 KiB leaf (two blocks, 262 KB)
// declares and holds 45.6 MB: refused against a 10 MiB limit before a byte
// is written; one that declares less than it holds is stopped at what it
// declares; Stat refuses both by what their leaves hold.
func TestExportFileBomb(t *testing.T) {
	d := newDAG(t)
	ctx := t.Context()
	leaf, _, err := d.AddFile(ctx, bytes.NewReader(bytes.Repeat([]byte{'x'}, unixfs.ChunkSize)))
	if err != nil {
		t.Fatal(err)
	}
	leafNode, err := dagOf(d).Get(ctx, leaf)
	if err != nil {
		t.Fatal(err)
	}
	for declared, want := range map[uint64]error{
		unixfs.ChunkSize: unixfs.ErrOverLimit,   // honest sizes: 45.6 MB, over the limit
		1:                unixfs.ErrUnsupported, // a lie: stopped at what it declares
	} {
		fsn := ufs.NewFSNode(ufs.TFile)
		for range unixfs.FileLinks {
			fsn.AddBlockSize(declared)
		}
		data, err := fsn.GetBytes()
		if err != nil {
			t.Fatal(err)
		}
		n := merkledag.NodeWithData(data)
		n.SetCidBuilder(v1pb)
		for range unixfs.FileLinks {
			if err := n.AddNodeLink("", leafNode); err != nil {
				t.Fatal(err)
			}
		}
		if err := dagOf(d).Add(ctx, n); err != nil {
			t.Fatal(err)
		}
		exportRefused(t, d, ctx, n.Cid(), unixfs.Limits{Bytes: 10 << 20, Entries: 10, Depth: 4}, want)
		// Stat counts what the leaves hold, whatever is declared.
		if _, err := d.Stat(ctx, n.Cid(), unixfs.Limits{Bytes: 10 << 20, Entries: 10, Depth: 4}); !errors.Is(err, unixfs.ErrOverLimit) {
			t.Errorf("stat of a file node declaring %d a leaf: %v, want %v", declared, err, unixfs.ErrOverLimit)
		}
	}
}

// A directory of 200 names all linking to one directory of 200 names (three
// blocks) expands to 40,201 entries: refused past the entries limit (1,000
// here; 16,384 by default).
func TestExportDirBomb(t *testing.T) {
	d := newDAG(t)
	ctx := t.Context()
	empty, _, err := d.AddFile(ctx, strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	fan := func(child cid.Cid) cid.Cid {
		links := map[string]cid.Cid{}
		for i := range 200 {
			links[fmt.Sprintf("e%d", i)] = child
		}
		return hostileDir(t, d, links)
	}
	bomb := fan(fan(empty))
	exportRefused(t, d, ctx, bomb, unixfs.Limits{Bytes: 1 << 20, Entries: 1000, Depth: 8}, unixfs.ErrOverLimit)
	// Stat counts what it expands to, reading each of its blocks once.
	if _, err := d.Stat(ctx, bomb, unixfs.Limits{Bytes: 1 << 20, Entries: 1000, Depth: 8}); !errors.Is(err, unixfs.ErrOverLimit) {
		t.Fatalf("stat within 1,000 entries: %v, want %v", err, unixfs.ErrOverLimit)
	}
	st, err := d.Stat(ctx, bomb, unixfs.Limits{Bytes: 1 << 20, Entries: 50000, Depth: 8})
	if err != nil || st.Entries != 1+200+200*200 || len(st.Blocks) != 3 || st.Files != 200*200 {
		t.Fatalf("stat: %+v, %v; want 40,201 entries, 40,000 files, 3 blocks", st, err)
	}
}

// A chain of 2,000 nested directories is refused at the depth limit (each
// level is written beneath its own os.Root, not resolved from the top).
func TestExportDeepNesting(t *testing.T) {
	d := newDAG(t)
	ctx := t.Context()
	c, _, err := d.AddFile(ctx, strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	for range 2000 {
		c = hostileDir(t, d, map[string]cid.Cid{"a": c})
	}
	exportRefused(t, d, ctx, c, unixfs.DefaultLimits(), unixfs.ErrOverLimit)
}

// An export stops when its context is done.
func TestExportCancelled(t *testing.T) {
	d := newDAG(t)
	c, _, err := d.AddFile(t.Context(), bytes.NewReader(make([]byte, 8<<20)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	exportRefused(t, d, ctx, c, unixfs.DefaultLimits(), context.Canceled)
}

// A tree whose file is an identity CID (its bytes inline, as ipfs add
// --inline makes) exports: no block to look for.
func TestExportIdentityLeaf(t *testing.T) {
	d := newDAG(t)
	idc, err := cid.V1Builder{Codec: cid.Raw, MhType: 0x00}.Sum([]byte("inline"))
	if err != nil {
		t.Fatal(err)
	}
	n := ufs.EmptyDirNode()
	n.SetCidBuilder(v1pb)
	if err := n.AddRawLink("f", &ipld.Link{Cid: idc, Size: 6}); err != nil {
		t.Fatal(err)
	}
	if err := dagOf(d).Add(t.Context(), n); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	if err := d.Export(t.Context(), n.Cid(), out, unixfs.DefaultLimits()); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(out, "f")); err != nil || string(b) != "inline" {
		t.Fatalf("f: %q, %v", b, err)
	}
}
