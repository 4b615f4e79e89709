package mesh

import (
	"context"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/transport"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	"github.com/libp2p/go-libp2p/p2p/transport/tcpreuse"
	ma "github.com/multiformats/go-multiaddr"
)

// Delay gives the node an added delay on every connection (test networks
// only; the kernel here has no netem): what it writes on any of its streams
// is delivered d later (without slowing its throughput), so every round
// trip with this node — ping, gossip, streams — takes d longer. A delayed
// node speaks TCP only.
func Delay(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 || d > time.Minute {
			return errorf("delay %v: out of range (0 to 1m)", d)
		}
		c.delay = d
		return nil
	}
}

// delayedTCP is the TCP transport with every stream's writes delayed.
func delayedTCP(d time.Duration) any {
	return func(up transport.Upgrader, rcmgr network.ResourceManager, shared *tcpreuse.ConnMgr) (transport.Transport, error) {
		t, err := tcp.NewTCPTransport(up, rcmgr, shared)
		if err != nil {
			return nil, err
		}
		return &delayTransport{Transport: t, d: d}, nil
	}
}

type delayTransport struct {
	transport.Transport
	d time.Duration
}

func (t *delayTransport) Dial(ctx context.Context, raddr ma.Multiaddr, p peer.ID) (transport.CapableConn, error) {
	c, err := t.Transport.Dial(ctx, raddr, p)
	if err != nil {
		return nil, err
	}
	return &delayConn{CapableConn: c, d: t.d}, nil
}

func (t *delayTransport) Listen(laddr ma.Multiaddr) (transport.Listener, error) {
	l, err := t.Transport.Listen(laddr)
	if err != nil {
		return nil, err
	}
	return &delayListener{Listener: l, d: t.d}, nil
}

type delayListener struct {
	transport.Listener
	d time.Duration
}

func (l *delayListener) Accept() (transport.CapableConn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &delayConn{CapableConn: c, d: l.d}, nil
}

type delayConn struct {
	transport.CapableConn
	d time.Duration
}

func (c *delayConn) OpenStream(ctx context.Context) (network.MuxedStream, error) {
	s, err := c.CapableConn.OpenStream(ctx)
	if err != nil {
		return nil, err
	}
	return &delayStream{MuxedStream: s, d: c.d}, nil
}

func (c *delayConn) AcceptStream() (network.MuxedStream, error) {
	s, err := c.CapableConn.AcceptStream()
	if err != nil {
		return nil, err
	}
	return &delayStream{MuxedStream: s, d: c.d}, nil
}

// delayStream delivers each write d after it was made, without holding the
// writer back: latency, not a throughput cap. Writes are queued and sent in
// order by one goroutine; closing flushes the queue first.
type delayStream struct {
	network.MuxedStream
	d time.Duration

	once    sync.Once
	queue   chan delayed
	flushed chan struct{}
	qmu     sync.Mutex // guards closed, sends on queue and its closing
	closed  bool
	emu     sync.Mutex // guards err (the writer goroutine never takes qmu)
	err     error
}

type delayed struct {
	b   []byte
	due time.Time
}

func (s *delayStream) start() {
	s.once.Do(func() {
		s.queue = make(chan delayed, 1024)
		s.flushed = make(chan struct{})
		go func() {
			defer close(s.flushed)
			for c := range s.queue {
				time.Sleep(time.Until(c.due))
				if _, err := s.MuxedStream.Write(c.b); err != nil {
					s.emu.Lock()
					s.err = err
					s.emu.Unlock()
				}
			}
		}()
	})
}

func (s *delayStream) Write(p []byte) (int, error) {
	s.start()
	s.emu.Lock()
	err := s.err
	s.emu.Unlock()
	if err != nil {
		return 0, err
	}
	s.qmu.Lock()
	defer s.qmu.Unlock()
	if s.closed {
		return 0, network.ErrReset
	}
	s.queue <- delayed{b: append([]byte(nil), p...), due: time.Now().Add(s.d)}
	return len(p), nil
}

// flush sends what is queued before the stream is closed for writing.
func (s *delayStream) flush() {
	s.drop()
	<-s.flushed
}

func (s *delayStream) CloseWrite() error {
	s.flush()
	return s.MuxedStream.CloseWrite()
}

func (s *delayStream) Close() error {
	s.flush()
	return s.MuxedStream.Close()
}

func (s *delayStream) Reset() error {
	s.drop()
	return s.MuxedStream.Reset()
}

func (s *delayStream) ResetWithError(code network.StreamErrorCode) error {
	s.drop()
	return s.MuxedStream.ResetWithError(code)
}

// drop ends the writer goroutine without waiting for what is queued.
func (s *delayStream) drop() {
	s.start()
	s.qmu.Lock()
	if !s.closed {
		s.closed = true
		close(s.queue)
	}
	s.qmu.Unlock()
}
