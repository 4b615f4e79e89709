package mesh

import (
	"context"
	"crypto/rand"
	"io"
	"net"
	"testing"

	"github.com/computemesh/computemesh/job"
	"github.com/libp2p/go-libp2p/core/peer"
)

// BenchmarkBlobTransfer measures fetching a 16 MiB blob by CID over a
// libp2p stream on loopback (TCP transport, Noise, yamux, and the CID check
// on arrival) beside a plain TCP copy of the same bytes on loopback.
func BenchmarkBlobTransfer(b *testing.B) {
	const size = 16 << 20
	blob := make([]byte, size)
	_, _ = rand.Read(blob)
	c := job.ModuleCID(blob).String()

	b.Run("libp2p-stream", func(b *testing.B) {
		ctx := context.Background()
		server, err := New(ctx, Network("test-bench"), Listen("/ip4/127.0.0.1/tcp/0"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { server.Close() })
		client, err := New(ctx, Network("test-bench"), Listen("/ip4/127.0.0.1/tcp/0"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { client.Close() })
		server.ServeBlobs(func(string) ([]byte, func(), bool) { return blob, nil, true }, func(peer.ID, string) bool { return true })
		if err := client.Connect(ctx, peer.AddrInfo{ID: server.ID(), Addrs: server.Host().Addrs()}); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(size)
		for b.Loop() {
			got, err := client.FetchBlob(ctx, server.ID(), c, 0)
			if err != nil || len(got) != size {
				b.Fatalf("fetch: %d bytes, %v", len(got), err)
			}
		}
	})

	b.Run("plain-tcp", func(b *testing.B) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { ln.Close() })
		go func() {
			for {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					defer conn.Close()
					_, _ = conn.Write(blob)
				}()
			}
		}()
		buf := make([]byte, size)
		b.SetBytes(size)
		for b.Loop() {
			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(conn, buf); err != nil {
				b.Fatal(err)
			}
			conn.Close()
		}
	})
}
