package mesh

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	ma "github.com/multiformats/go-multiaddr"
)

// mockHosts makes n linked mocknet hosts with Ed25519 keys.
func mockHosts(t *testing.T, n int) (mocknet.Mocknet, []host.Host) {
	t.Helper()
	mn := mocknet.New()
	t.Cleanup(func() { _ = mn.Close() })
	var hs []host.Host
	for i := range n {
		k, _, err := crypto.GenerateEd25519Key(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		h, err := mn.AddPeer(k, ma.StringCast(fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", 20000+i)))
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
	}
	if err := mn.LinkAll(); err != nil {
		t.Fatal(err)
	}
	return mn, hs
}

// TestHostMocknet builds two meshes on mocknet hosts: each takes its host's
// key, the second bootstraps from the first, and a capacity record the
// first stores (signed with the host's key) is found and verified by the
// second through the DHT. Close closes the host it was given.
func TestHostMocknet(t *testing.T) {
	_, hs := mockHosts(t, 2)
	ctx := context.Background()
	a, err := New(ctx, Host(hs[0]), Network("test"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	if a.ID() != hs[0].ID() {
		t.Fatalf("mesh ID %s, host ID %s", a.ID(), hs[0].ID())
	}
	b, err := New(ctx, Host(hs[1]), Network("test"), Bootstrap(a.Addrs()[0].String()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	rec := capTestRecord(a.ID(), 1)
	rec.ExpiresMS = time.Now().Add(time.Hour).UnixMilli()
	var got *job.Capacity
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		if _, err = a.PutCapacity(wctx, rec); err == nil {
			if got, err = b.GetCapacity(wctx, a.ID()); err == nil {
				break
			}
		}
		if wctx.Err() != nil {
			t.Fatalf("the capacity record stored on a mocknet host was not found in 30 s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got.Peer != a.ID().String() || got.Seq != 1 {
		t.Fatalf("got the record of %s seq %d, want %s seq 1", got.Peer, got.Seq, a.ID())
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := hs[1].NewStream(ctx, a.ID(), "/x"); err == nil {
		t.Fatal("the host given to a closed mesh still opens streams")
	}
}

// TestHostOptions: an identity that is not the host's key, and a nil host,
// are refused.
func TestHostOptions(t *testing.T) {
	_, hs := mockHosts(t, 1)
	other, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(context.Background(), Host(hs[0]), Identity(other)); err == nil || !strings.Contains(err.Error(), "not the host's key") {
		t.Fatalf("an identity other than the host's key: %v", err)
	}
	if err := CheckOptions(Host(nil)); err == nil {
		t.Fatal("a nil host was accepted")
	}
}
