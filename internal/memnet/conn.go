package memnet

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/transport"
	ma "github.com/multiformats/go-multiaddr"
)

// ErrConnClosed is what the streams of a closed connection return.
var ErrConnClosed = fmt.Errorf("memnet: connection closed: %w", network.ErrReset)

// acceptBacklog is how many streams one end may have opened that the other
// has not accepted yet; OpenStream waits beyond it (yamux's backlog).
const acceptBacklog = 256

// link is what the two ends of a connection share: closing either closes
// both, as a socket's would.
type link struct {
	once   sync.Once
	closed chan struct{}
	// down is closed as a flag: IsClosed, which the swarm asks of every
	// connection to a peer for every peer a DHT answer names, reads it
	// without touching the channel (a cache miss each, at 500 nodes).
	down atomic.Bool
}

func (l *link) close() {
	l.once.Do(func() {
		l.down.Store(true)
		close(l.closed)
	})
}

// conn is one end of a connection.
type conn struct {
	t         *Transport
	remoteID  peer.ID
	remoteKey crypto.PubKey
	laddr     ma.Multiaddr
	raddr     ma.Multiaddr
	scope     network.ConnManagementScope
	link      *link
	other     *conn
	done      atomic.Bool // scope released

	// The streams the other end opened, to be accepted: a queue rather
	// than a channel of acceptBacklog, which would hold 2 KiB for each end
	// of every idle connection.
	mu       sync.Mutex
	incoming []*stream
	arrived  chan struct{} // 1: a stream was queued
	taken    chan struct{} // 1: a stream was accepted
}

var _ transport.CapableConn = (*conn)(nil)

// newConnPair is a connection between the dialling transport a (at aAddr)
// and the listening transport b (at bAddr), each end with its scope.
func newConnPair(a *Transport, aScope network.ConnManagementScope, aAddr ma.Multiaddr, b *Transport, bScope network.ConnManagementScope, bAddr ma.Multiaddr) (*conn, *conn) {
	l := &link{closed: make(chan struct{})}
	ca := &conn{t: a, remoteID: b.id, remoteKey: b.key.GetPublic(), laddr: aAddr, raddr: bAddr, scope: aScope, link: l,
		arrived: make(chan struct{}, 1), taken: make(chan struct{}, 1)}
	cb := &conn{t: b, remoteID: a.id, remoteKey: a.key.GetPublic(), laddr: bAddr, raddr: aAddr, scope: bScope, link: l,
		arrived: make(chan struct{}, 1), taken: make(chan struct{}, 1)}
	ca.other, cb.other = cb, ca
	return ca, cb
}

// Close closes the connection at both ends: every stream's reads and
// writes fail, and the other end's AcceptStream returns an error.
func (c *conn) Close() error {
	c.link.close()
	if c.done.CompareAndSwap(false, true) {
		c.scope.Done()
	}
	return nil
}

// CloseWithError is Close; the code is not passed on.
func (c *conn) CloseWithError(network.ConnErrorCode) error { return c.Close() }

func (c *conn) IsClosed() bool { return c.link.down.Load() }

// OpenStream opens a stream, waiting while the other end's backlog of
// streams to accept is full.
func (c *conn) OpenStream(ctx context.Context) (network.MuxedStream, error) {
	local, remote := newStreamPair(c.link)
	o := c.other
	for {
		if c.IsClosed() {
			return nil, ErrConnClosed
		}
		o.mu.Lock()
		if len(o.incoming) < acceptBacklog {
			o.incoming = append(o.incoming, remote)
			room := len(o.incoming) < acceptBacklog
			o.mu.Unlock()
			signal(o.arrived)
			if room {
				signal(o.taken) // another opener waiting may go on too
			}
			return local, nil
		}
		o.mu.Unlock()
		select {
		case <-o.taken:
		case <-c.link.closed:
		case <-ctx.Done():
			return nil, fmt.Errorf("memnet: opening a stream: %w", ctx.Err())
		}
	}
}

// AcceptStream returns the next stream the other end opened.
func (c *conn) AcceptStream() (network.MuxedStream, error) {
	for {
		c.mu.Lock()
		if len(c.incoming) > 0 {
			s := c.incoming[0]
			c.incoming[0] = nil
			c.incoming = c.incoming[1:]
			if len(c.incoming) == 0 {
				c.incoming = nil
			}
			c.mu.Unlock()
			signal(c.taken)
			return s, nil
		}
		c.mu.Unlock()
		if c.IsClosed() {
			return nil, ErrConnClosed
		}
		select {
		case <-c.arrived:
		case <-c.link.closed:
		}
	}
}

func (c *conn) As(any) bool { return false }

func (c *conn) LocalPeer() peer.ID             { return c.t.id }
func (c *conn) RemotePeer() peer.ID            { return c.remoteID }
func (c *conn) RemotePublicKey() crypto.PubKey { return c.remoteKey }
func (c *conn) LocalMultiaddr() ma.Multiaddr   { return c.laddr }
func (c *conn) RemoteMultiaddr() ma.Multiaddr  { return c.raddr }
func (c *conn) Scope() network.ConnScope       { return c.scope }
func (c *conn) Transport() transport.Transport { return c.t }
func (c *conn) ConnState() network.ConnectionState {
	return network.ConnectionState{Transport: "memnet"}
}

// signal wakes whoever waits on ch (a channel of capacity 1), if anyone.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
