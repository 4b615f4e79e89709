package unixfs_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/computemesh/computemesh/internal/kubofixture"
	"github.com/computemesh/computemesh/unixfs"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// peerNode is a libp2p host on 127.0.0.1 with a blockstore on disk and
// Bitswap, serving what serve allows.
type peerNode struct {
	h   host.Host
	bs  *unixfs.Blockstore
	ex  *unixfs.Bitswap
	dag *unixfs.DAG
}

func newPeer(t testing.TB, serve unixfs.Serve, listenAddrs ...string) *peerNode {
	t.Helper()
	if len(listenAddrs) == 0 {
		listenAddrs = []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"}
	}
	h, err := libp2p.New(libp2p.ListenAddrStrings(listenAddrs...), libp2p.DisableRelay())
	if err != nil {
		t.Fatal(err)
	}
	bs, err := unixfs.OpenBlockstore(filepath.Join(t.TempDir(), "blocks"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ex := unixfs.NewBitswap(ctx, h, bs, nil, serve)
	t.Cleanup(func() {
		ex.Close()
		cancel()
		h.Close()
		bs.Close()
	})
	return &peerNode{h: h, bs: bs, ex: ex, dag: unixfs.New(bs, unixfs.WithExchange(ex))}
}

func connectPeers(t testing.TB, a, b *peerNode) {
	t.Helper()
	if err := a.h.Connect(context.Background(), peer.AddrInfo{ID: b.h.ID(), Addrs: b.h.Addrs()}); err != nil {
		t.Fatal(err)
	}
}

func serveAll(peer.ID, cid.Cid) bool { return true }

// A file held by one peer reads whole at another over Bitswap (real hosts
// on 127.0.0.1), with the CID kubo gives it; the reader's blockstore keeps
// the blocks.
func TestBitswapFetch(t *testing.T) {
	holder, reader := newPeer(t, serveAll), newPeer(t, serveAll)
	b := kubofixture.Bytes(7, 5*unixfs.ChunkSize+123)
	c, _, err := holder.dag.AddFile(t.Context(), bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	connectPeers(t, reader, holder)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	r, err := reader.dag.Open(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, b) {
		t.Fatalf("fetched %d of %d bytes: %v", len(got), len(b), err)
	}
	if ok, err := reader.bs.Has(t.Context(), c); !ok || err != nil {
		t.Fatalf("the reader's blockstore lacks the root after the fetch: %v %v", ok, err)
	}
}

// A holder serves only what its filter allows: a peer it does not serve
// gets nothing (its fetch ends with its context), one it does gets the
// file.
func TestBitswapServesOnlyAllowedPeers(t *testing.T) {
	var allowed peer.ID
	holder := newPeer(t, func(p peer.ID, _ cid.Cid) bool { return p == allowed })
	stranger, friend := newPeer(t, serveAll), newPeer(t, serveAll)
	allowed = friend.h.ID()
	c, _, err := holder.dag.AddFile(t.Context(), bytes.NewReader([]byte("a client's private input")))
	if err != nil {
		t.Fatal(err)
	}
	connectPeers(t, stranger, holder)
	connectPeers(t, friend, holder)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	if r, err := stranger.dag.Open(ctx, c); err == nil {
		b, _ := io.ReadAll(r)
		t.Fatalf("a peer the holder does not serve read %q", b)
	}
	ctx, cancel = context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	r, err := friend.dag.Open(ctx, c)
	if err != nil {
		t.Fatalf("a peer the holder serves: %v", err)
	}
	r.Close()
}

// BenchmarkBitswap fetches a file of UNIXFS_BENCH_MIB MiB (default 256)
// from one peer to another on 127.0.0.1 into a blockstore on disk (Fetch:
// 64 blocks asked for at once), over TCP and over QUIC, and reports MB/s.
func BenchmarkBitswap(b *testing.B) {
	for _, tr := range []struct{ name, addr string }{{"tcp", "/ip4/127.0.0.1/tcp/0"}, {"quic", "/ip4/127.0.0.1/udp/0/quic-v1"}} {
		b.Run(tr.name, func(b *testing.B) { benchBitswap(b, tr.addr) })
	}
}

func benchBitswap(b *testing.B, addr string) {
	size := benchSize(b)
	for range b.N {
		holder, reader := newPeer(b, serveAll, addr), newPeer(b, serveAll, addr)
		src := &stream{n: size}
		c, _, err := holder.dag.AddFile(b.Context(), src)
		if err != nil {
			b.Fatal(err)
		}
		connectPeers(b, reader, holder)
		t0 := time.Now()
		if err := reader.dag.Fetch(b.Context(), c, unixfs.Limits{Bytes: size, Entries: 1, Depth: 1}); err != nil {
			b.Fatal(err)
		}
		fetched := time.Since(t0)
		r, err := reader.dag.Open(b.Context(), c)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, r)
		r.Close()
		if err != nil || n != size {
			b.Fatalf("fetched %d of %d bytes: %v", n, size, err)
		}
		d := time.Since(t0)
		b.ReportMetric(float64(size)/fetched.Seconds()/1e6, "fetch-MB/s")
		b.Logf("%d MiB over Bitswap in %v (then read from the blockstore in %v)", size>>20, fetched.Round(time.Millisecond), (d - fetched).Round(time.Millisecond))
	}
}

// A fetch takes no more blocks than exporting its limits can need: a 2 MiB
// file is refused against a 256 KiB limit (1.25 MiB of blocks).
func TestFetchLimited(t *testing.T) {
	holder, reader := newPeer(t, serveAll), newPeer(t, serveAll)
	c, _, err := holder.dag.AddFile(t.Context(), bytes.NewReader(kubofixture.Bytes(8, 2<<20)))
	if err != nil {
		t.Fatal(err)
	}
	connectPeers(t, reader, holder)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := reader.dag.Fetch(ctx, c, unixfs.Limits{Bytes: 256 << 10, Entries: 1, Depth: 1}); !errors.Is(err, unixfs.ErrOverLimit) {
		t.Fatalf("fetch over the limit: %v, want ErrOverLimit", err)
	}
	if err := reader.dag.Fetch(ctx, c, unixfs.Limits{Bytes: 2 << 20, Entries: 1, Depth: 1}); err != nil {
		t.Fatalf("fetch within the limit: %v", err)
	}
}

// A Bitswap started on a host already connected to a peer hears of the
// peer (it fetches from it) and of its leaving: a peer gone is not dialled
// again for the next want.
func TestBitswapStartedLate(t *testing.T) {
	ctx := t.Context()
	holder := newPeer(t, serveAll)
	c, _, err := holder.dag.AddFile(ctx, bytes.NewReader(kubofixture.Bytes(7, 3000)))
	if err != nil {
		t.Fatal(err)
	}
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableRelay())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	if err := h.Connect(ctx, peer.AddrInfo{ID: holder.h.ID(), Addrs: holder.h.Addrs()}); err != nil {
		t.Fatal(err)
	}
	bs, err := unixfs.OpenBlockstore(filepath.Join(t.TempDir(), "blocks"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bs.Close() })
	ex := unixfs.NewBitswap(ctx, h, bs, nil, nil)
	t.Cleanup(func() { ex.Close() })
	fetch, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := ex.GetBlock(fetch, c); err != nil {
		t.Fatalf("from the peer connected before Bitswap started: %v", err)
	}
	if err := h.Network().ClosePeer(holder.h.ID()); err != nil {
		t.Fatal(err)
	}
	other, _ := cid.V1Builder{Codec: cid.Raw, MhType: 0x12}.Sum([]byte("held by no one"))
	short, cancelShort := context.WithTimeout(ctx, 2*time.Second)
	defer cancelShort()
	_, _ = ex.GetBlock(short, other)
	if h.Network().Connectedness(holder.h.ID()) == network.Connected {
		t.Fatal("the peer that left was dialled again for a want")
	}
}
