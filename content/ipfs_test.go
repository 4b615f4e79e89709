package content

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/ipfs/boxo/exchange"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
)

// nobody is an exchange whose peers hold nothing: it waits as Bitswap
// does, for as long as it is let.
type nobody struct{}

func (nobody) GetBlock(ctx context.Context, _ cid.Cid) (blocks.Block, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func (nobody) GetBlocks(ctx context.Context, _ []cid.Cid) (<-chan blocks.Block, error) {
	out := make(chan blocks.Block)
	go func() { <-ctx.Done(); close(out) }()
	return out, nil
}

func (nobody) NotifyNewBlocks(context.Context, ...blocks.Block) error { return nil }
func (nobody) Close() error                                           { return nil }

// An IPFS input: refused by a node that does not fetch them; given up on,
// naming it, when no block comes for the stall time, even when this node
// holds it for someone else; refused when it expands past the owner's
// inputs limit; laid out whole otherwise.
func TestIPFSInputs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := newContent(t)
	tree := writeTree(t)
	root := addGranted(t, src, tree, "provider")
	holder := func() (exchange.Interface, error) { // a peer that holds the tree
		return &peerBlocks{f: storeFetcher{from: src, as: "provider"}, p: "holder"}, nil
	}
	in := []job.Input{{Name: "data", CID: root.String(), Source: job.SourceIPFS}}

	for _, tc := range []struct {
		name string
		opts []Option
		want error
		what string
	}{
		{"no IPFS here", nil, ErrIPFSInputs, "does not fetch inputs from IPFS"},
		{"no one holds it", []Option{WithIPFS(func() (exchange.Interface, error) { return nobody{}, nil }), WithIPFSStall(300 * time.Millisecond)}, errIPFSStalled, "no peer found holds it"},
		{"over the owner's limit", []Option{WithIPFS(holder), WithInputLimit(1 << 20)}, ErrOverBudget, "inputs limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newContent(t, tc.opts...)
			dir := t.TempDir()
			err := c.StageInputs(ctx, "client", in, dir)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.what) || !strings.Contains(err.Error(), "input data") {
				t.Fatalf("staging: %v, want %v naming the input and %q", err, tc.want, tc.what)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Fatalf("a refused input left %d entries", len(ents))
			}
		})
	}

	// Blocks this node holds for someone else (another client's input,
	// here its own copy) are never what an IPFS input gets: only what
	// peers send.
	private := newContent(t, WithIPFS(func() (exchange.Interface, error) { return nobody{}, nil }), WithIPFSStall(300*time.Millisecond))
	if _, err := private.Add(ctx, tree); err != nil {
		t.Fatal(err)
	}
	if err := private.StageInputs(ctx, "client", in, t.TempDir()); !errors.Is(err, errIPFSStalled) {
		t.Fatalf("an IPFS input naming a DAG held here and by no peer: %v, want %v", err, errIPFSStalled)
	}

	c := newContent(t, WithIPFS(holder))
	dir := t.TempDir()
	if err := c.StageInputs(ctx, "client", in, dir); err != nil {
		t.Fatal(err)
	}
	sameTree(t, tree, dir+"/data")
}
