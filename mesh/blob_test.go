package mesh

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/libp2p/go-libp2p/core/peer"
)

// A blob whose bytes do not match the CID asked for is refused, and a peer
// not allowed a blob does not get it.
func TestFetchBlobVerifiesAndChecksAccess(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	server, err := New(ctx, Network("test-blob"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	client, err := New(ctx, Network("test-blob"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	good := []byte("the real bytes")
	goodCID := job.ModuleCID(good).String()
	liedCID := job.ModuleCID([]byte("something else")).String()
	secretCID := job.ModuleCID([]byte("secret")).String()
	server.ServeBlobs(func(c string) ([]byte, bool) {
		switch c {
		case goodCID, liedCID: // serves the same bytes under a CID they do not hash to
			return good, true
		case secretCID:
			return []byte("secret"), true
		}
		return nil, false
	}, func(p peer.ID, c string) bool { return c != secretCID })
	if err := client.Connect(ctx, peer.AddrInfo{ID: server.ID(), Addrs: server.Host().Addrs()}); err != nil {
		t.Fatal(err)
	}
	if b, err := client.FetchBlob(ctx, server.ID(), goodCID); err != nil || string(b) != string(good) {
		t.Fatalf("good blob: %q, %v", b, err)
	}
	if _, err := client.FetchBlob(ctx, server.ID(), liedCID); err == nil || !strings.Contains(err.Error(), "do not match") {
		t.Fatalf("mismatched blob: %v, want a refusal", err)
	}
	if _, err := client.FetchBlob(ctx, server.ID(), secretCID); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("blob not allowed: %v, want not found", err)
	}
}
