package memnet_test

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/computemesh/computemesh/internal/memnet"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/transport"
	ttransport "github.com/libp2p/go-libp2p/p2p/transport/testsuite"
	ma "github.com/multiformats/go-multiaddr"
)

func newTransport(t *testing.T, n *memnet.Network) (*memnet.Transport, peer.ID) {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := n.NewTransport(k, nil)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := peer.IDFromPrivateKey(k)
	return tr, id
}

// TestTransportSuite runs go-libp2p's transport test suite: streams,
// stress, resets, cancellation.
func TestTransportSuite(t *testing.T) {
	n := memnet.New()
	ta, idA := newTransport(t, n)
	tb, _ := newTransport(t, n)
	ttransport.SubtestTransport(t, ta, tb, "/ip4/127.0.0.1/tcp/0", idA)
}

// listening is a listener of one transport (peer idA) and another
// transport of the same network to dial it with.
func listening(t *testing.T) (l transport.Listener, idA peer.ID, tb *memnet.Transport) {
	t.Helper()
	n := memnet.New()
	ta, idA := newTransport(t, n)
	tb, _ = newTransport(t, n)
	l, err := ta.Listen(ma.StringCast("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, idA, tb
}

// pair is a connection between two transports of one network.
func pair(t *testing.T) (transport.CapableConn, transport.CapableConn) {
	t.Helper()
	l, idA, tb := listening(t)
	accepted := make(chan transport.CapableConn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	c, err := tb.Dial(context.Background(), l.Multiaddr(), idA)
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	t.Cleanup(func() { c.Close(); s.Close() })
	return c, s
}

func TestDialRefusedAndMismatch(t *testing.T) {
	n := memnet.New()
	ta, idA := newTransport(t, n)
	tb, idB := newTransport(t, n)
	addr := ma.StringCast("/ip4/127.0.0.1/tcp/4001")
	if _, err := tb.Dial(context.Background(), addr, idA); !errors.Is(err, memnet.ErrRefused) {
		t.Fatalf("dial with nobody listening: %v, want ErrRefused", err)
	}
	l, err := ta.Listen(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := ta.Listen(addr); err == nil {
		t.Fatal("a second listener on the same address was allowed")
	}
	if _, err := tb.Dial(context.Background(), addr, idB); err == nil {
		t.Fatal("a dial expecting another peer at the address succeeded")
	}
	if tb.CanDial(ma.StringCast("/ip4/127.0.0.1/udp/4001/quic-v1")) {
		t.Fatal("CanDial took a QUIC address")
	}
}

func TestDeadlinesAndClose(t *testing.T) {
	c, s := pair(t)
	a, err := c.OpenStream(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.AcceptStream()
	if err != nil {
		t.Fatal(err)
	}
	// A read deadline in the past fails a blocked read as a timeout.
	done := make(chan error, 1)
	go func() {
		_, err := b.Read(make([]byte, 1))
		done <- err
	}()
	time.Sleep(10 * time.Millisecond)
	b.SetReadDeadline(time.Now())
	if err := <-done; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past its deadline: %v", err)
	}
	b.SetReadDeadline(time.Time{})
	// A writer blocked on a full window fails at its deadline.
	a.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := a.Write(make([]byte, 1<<20)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write past the window without a reader: %v", err)
	}
	a.SetWriteDeadline(time.Time{})
	// Closing the connection fails blocked reads at both ends.
	go func() {
		io.Copy(io.Discard, b)
		_, err := b.Read(make([]byte, 1))
		done <- err
	}()
	c.Close()
	if err := <-done; err == nil || err == io.EOF {
		t.Fatalf("read on a closed connection: %v, want an error", err)
	}
	if !s.IsClosed() {
		t.Fatal("the other end is not closed")
	}
	if _, err := s.AcceptStream(); !errors.Is(err, network.ErrReset) {
		t.Fatalf("accept on a closed connection: %v", err)
	}
}

// Every goroutine blocked on a stream end wakes when it is reset, however
// many there are; a dial after a listener closed is refused, and one
// queued before is closed with it.
func TestManyWaitersAndClosedListener(t *testing.T) {
	c, s := pair(t)
	a, err := c.OpenStream(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AcceptStream(); err != nil {
		t.Fatal(err)
	}
	// Two readers of a (nothing is written to it) and two writers past the
	// window (nothing reads the other end).
	errs := make(chan error, 4)
	for range 2 {
		go func() { _, err := a.Read(make([]byte, 1)); errs <- err }()
		go func() { _, err := a.Write(make([]byte, 1<<20)); errs <- err }()
	}
	time.Sleep(20 * time.Millisecond)
	a.Reset()
	for range 4 {
		select {
		case err := <-errs:
			if err == nil {
				t.Fatal("a blocked read or write returned no error after a reset")
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a goroutine blocked on the stream did not wake at its reset")
		}
	}

	l, idA, tb := listening(t)
	queued, err := tb.Dial(context.Background(), l.Multiaddr(), idA)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if !queued.IsClosed() {
		t.Fatal("a connection dialled but never accepted stayed open after its listener closed")
	}
	if _, err := tb.Dial(context.Background(), l.Multiaddr(), idA); !errors.Is(err, memnet.ErrRefused) {
		t.Fatalf("dial after the listener closed: %v, want ErrRefused", err)
	}
}
