package mesh

import (
	"bufio"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/libp2p/go-libp2p/core/network"
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
	server.ServeBlobs(func(c string) ([]byte, func(), bool) {
		switch c {
		case goodCID, liedCID: // serves the same bytes under a CID they do not hash to
			return good, nil, true
		case secretCID:
			return []byte("secret"), nil, true
		}
		return nil, nil, false
	}, func(p peer.ID, c string) bool { return c != secretCID })
	if err := client.Connect(ctx, peer.AddrInfo{ID: server.ID(), Addrs: server.Host().Addrs()}); err != nil {
		t.Fatal(err)
	}
	if b, err := client.FetchBlob(ctx, server.ID(), goodCID, 0); err != nil || string(b) != string(good) {
		t.Fatalf("good blob: %q, %v", b, err)
	}
	if _, err := client.FetchBlob(ctx, server.ID(), liedCID, 0); err == nil || !strings.Contains(err.Error(), "do not match") {
		t.Fatalf("mismatched blob: %v, want a refusal", err)
	}
	if _, err := client.FetchBlob(ctx, server.ID(), secretCID, 0); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("blob not allowed: %v, want not found", err)
	}
	if _, err := client.FetchBlob(ctx, server.ID(), goodCID, int64(len(good)-1)); !errors.Is(err, ErrBlobTooLarge) {
		t.Fatalf("blob over the caller's limit: %v, want ErrBlobTooLarge", err)
	}
}

// A peer that announces more than the fetch allows, then streams without
// end, is refused before the blob is read: the fetch returns at once with an
// error naming the peer and the CID, and the sender's writes fail soon.
func TestFetchBlobStopsAtItsLimit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	server, err := New(ctx, Network("test-blob-limit"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	client, err := New(ctx, Network("test-blob-limit"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	type sent struct {
		bytes int64
		err   error
	}
	results := make(chan sent, 4)
	// The handler runs on libp2p's goroutine: the race detector does not
	// see the socket between the test's write and its read.
	var mu sync.Mutex
	announce := map[string]int64{}
	server.Host().SetStreamHandler(server.Protocol("blob"), func(s network.Stream) {
		defer s.Close()
		var req blobReq
		if err := ReadMsg(bufio.NewReader(s), 1024, &req); err != nil {
			_ = s.Reset()
			return
		}
		mu.Lock()
		size := announce[req.CID]
		mu.Unlock()
		if err := WriteMsg(s, blobResp{Size: size}); err != nil {
			results <- sent{err: err}
			return
		}
		chunk := make([]byte, 64<<10)
		var n int64
		for n < 1<<30 { // a flood, unless the reader stops it
			k, err := s.Write(chunk)
			n += int64(k)
			if err != nil {
				results <- sent{bytes: n, err: err}
				return
			}
		}
		results <- sent{bytes: n}
	})
	if err := client.Connect(ctx, peer.AddrInfo{ID: server.ID(), Addrs: server.Host().Addrs()}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		announce int64
		max      int64
	}{
		{"over the caller's limit", 2 << 20, 1 << 20},
		{"over MaxBlob", 1 << 40, 0},
		{"negative", -1, 0},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := job.ModuleCID([]byte{byte(i)}).String()
			mu.Lock()
			announce[c] = tc.announce
			mu.Unlock()
			_, err := client.FetchBlob(ctx, server.ID(), c, tc.max)
			if !errors.Is(err, ErrBlobTooLarge) || !strings.Contains(err.Error(), c) || !strings.Contains(err.Error(), server.ID().String()) {
				t.Fatalf("fetch: %v, want ErrBlobTooLarge naming %s and %s", err, c, server.ID())
			}
			select {
			case r := <-results:
				if r.err == nil || r.bytes > 32<<20 {
					t.Errorf("the sender wrote %d bytes (%v): want its writes to fail early", r.bytes, r.err)
				}
			case <-ctx.Done():
				t.Fatal("the sender never stopped")
			}
		})
	}
}
