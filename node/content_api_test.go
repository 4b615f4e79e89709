package node

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/unixfs"
	"github.com/ipfs/boxo/ipld/merkledag"
	ufs "github.com/ipfs/boxo/ipld/unixfs"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

// A DAG in the store that expands past the node's limits — file nodes of
// 174 links to one node, four levels over one 256 KiB leaf: 240 TB from
// five blocks — is not served (GET /v1/content: too_large), however few
// its blocks: a refused fetch may leave them behind, and a download
// would fill the disk.
func TestContentAPIRefusesBombs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	n := startAPINode(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dag := n.content.DAG()
	leaf, _, err := dag.AddFile(ctx, bytes.NewReader(bytes.Repeat([]byte{'x'}, unixfs.ChunkSize)))
	if err != nil {
		t.Fatal(err)
	}
	c, size := leaf, uint64(unixfs.ChunkSize)
	for range 4 { // 174^4 leaves of 256 KiB: 240 TB
		c, size = fileOfLinks(t, n, c, size)
	}
	if err := n.store.Sync(); err != nil {
		t.Fatal(err)
	}
	cl, err := api.Dial(dir)
	if err != nil {
		t.Fatal(err)
	}
	var e *api.Error
	if _, err := cl.Content(ctx, c.String(), ""); !errors.As(err, &e) || e.Code != api.CodeTooLarge {
		t.Fatalf("a file node of %d declared bytes: %v; want too_large", size, err)
	}
}

// fileOfLinks stores a file node of unixfs.FileLinks links to c (of size
// bytes each) in n's store.
func fileOfLinks(t *testing.T, n *Node, c cid.Cid, size uint64) (cid.Cid, uint64) {
	t.Helper()
	fsn := ufs.NewFSNode(ufs.TFile)
	for range unixfs.FileLinks {
		fsn.AddBlockSize(size)
	}
	data, err := fsn.GetBytes()
	if err != nil {
		t.Fatal(err)
	}
	pn := merkledag.NodeWithData(data)
	if err := pn.SetCidBuilder(cid.V1Builder{Codec: cid.DagProtobuf, MhType: 0x12}); err != nil {
		t.Fatal(err)
	}
	for range unixfs.FileLinks {
		if err := pn.AddRawLink("", &ipld.Link{Cid: c, Size: size}); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.store.PutBlock(pn.Cid(), pn.RawData()); err != nil {
		t.Fatal(err)
	}
	return pn.Cid(), size * uint64(unixfs.FileLinks)
}
