package memnet

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
)

// window is how many bytes a stream's direction buffers before its
// writer waits for the reader (a stream multiplexer's receive window).
const window = 256 << 10

var (
	errWriteClosed = errors.New("memnet: write on a stream closed for writing")
	errReadClosed  = errors.New("memnet: read on a stream closed for reading")
	errStopped     = fmt.Errorf("memnet: the other end closed the stream for reading: %w", network.ErrReset)
)

// pipe is one direction of a stream: bytes written by one end, to be read
// by the other, at most window of them at once.
type pipe struct {
	wmu sync.Mutex // one write at a time: a write's bytes stay together

	mu       sync.Mutex
	buf      []byte
	eof      bool      // the writer closed its side
	stopped  bool      // the reader closed its side: writes fail
	reset    bool      // either end reset the stream
	rdl, wdl time.Time // the reader's and the writer's deadlines

	// wake is closed (and replaced) on every change while anyone waits:
	// data, room, EOF, a reset, a new deadline. Every waiter wakes and
	// looks again, however many wait.
	wake    chan struct{}
	waiters int
}

func newPipe() *pipe { return &pipe{} }

// changedLocked wakes whoever waits on p. p.mu held.
func (p *pipe) changedLocked() {
	if p.waiters > 0 {
		close(p.wake)
		p.wake, p.waiters = nil, 0
	}
}

// waitChLocked is the channel a waiter waits on. p.mu held.
func (p *pipe) waitChLocked() <-chan struct{} {
	if p.wake == nil {
		p.wake = make(chan struct{})
	}
	p.waiters++
	return p.wake
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// wait waits for ch, for closed, or until the deadline dl (zero: none).
func wait(ch, closed <-chan struct{}, dl time.Time) error {
	if dl.IsZero() {
		select {
		case <-ch:
		case <-closed:
		}
		return nil
	}
	d := time.Until(dl)
	if d <= 0 {
		return os.ErrDeadlineExceeded
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
	case <-closed:
	case <-t.C:
		return os.ErrDeadlineExceeded
	}
	return nil
}

func (p *pipe) read(b []byte, closed <-chan struct{}) (int, error) {
	for {
		p.mu.Lock()
		switch {
		case p.reset:
			p.mu.Unlock()
			return 0, network.ErrReset
		case p.stopped:
			p.mu.Unlock()
			return 0, errReadClosed
		case len(p.buf) > 0:
			n := copy(b, p.buf)
			p.buf = p.buf[n:]
			if len(p.buf) == 0 {
				p.buf = nil // an idle stream holds no buffer
			}
			p.changedLocked()
			p.mu.Unlock()
			return n, nil
		case p.eof:
			p.mu.Unlock()
			return 0, io.EOF
		case isClosed(closed):
			p.mu.Unlock()
			return 0, ErrConnClosed
		case len(b) == 0:
			p.mu.Unlock()
			return 0, nil
		}
		dl, ch := p.rdl, p.waitChLocked()
		p.mu.Unlock()
		if err := wait(ch, closed, dl); err != nil {
			return 0, err
		}
	}
}

func (p *pipe) write(b []byte, closed <-chan struct{}) (int, error) {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	n := 0
	for n < len(b) {
		p.mu.Lock()
		var err error
		switch {
		case p.reset:
			err = network.ErrReset
		case p.eof:
			err = errWriteClosed
		case p.stopped:
			err = errStopped
		case isClosed(closed):
			err = ErrConnClosed
		}
		if err != nil {
			p.mu.Unlock()
			return n, err
		}
		if room := window - len(p.buf); room > 0 {
			k := min(room, len(b)-n)
			p.buf = append(p.buf, b[n:n+k]...)
			n += k
			p.changedLocked()
			p.mu.Unlock()
			continue
		}
		dl, ch := p.wdl, p.waitChLocked()
		p.mu.Unlock()
		if err := wait(ch, closed, dl); err != nil {
			return n, err
		}
	}
	return n, nil
}

// update changes p under its lock and wakes both its ends.
func (p *pipe) update(f func(p *pipe)) {
	p.mu.Lock()
	f(p)
	p.changedLocked()
	p.mu.Unlock()
}

// stream is one end of a stream: it reads in and writes out.
type stream struct {
	in, out *pipe
	closed  <-chan struct{} // the connection's
}

var _ network.MuxedStream = (*stream)(nil)

// newStreamPair is a stream of connection l: the opening end and the
// accepting end.
func newStreamPair(l *link) (*stream, *stream) {
	ab, ba := newPipe(), newPipe()
	return &stream{in: ba, out: ab, closed: l.closed}, &stream{in: ab, out: ba, closed: l.closed}
}

func (s *stream) Read(b []byte) (int, error)  { return s.in.read(b, s.closed) }
func (s *stream) Write(b []byte) (int, error) { return s.out.write(b, s.closed) }

// CloseWrite ends what this end writes: the other end reads it, then EOF.
func (s *stream) CloseWrite() error {
	s.out.update(func(p *pipe) { p.eof = true })
	return nil
}

// CloseRead drops what was not read; the other end's writes fail.
func (s *stream) CloseRead() error {
	s.in.update(func(p *pipe) { p.stopped, p.buf = true, nil })
	return nil
}

func (s *stream) Close() error {
	s.CloseRead()
	return s.CloseWrite()
}

// Reset aborts both directions at both ends.
func (s *stream) Reset() error {
	for _, p := range []*pipe{s.in, s.out} {
		p.update(func(p *pipe) { p.reset, p.buf = true, nil })
	}
	return nil
}

// ResetWithError is Reset; the code is not passed on.
func (s *stream) ResetWithError(network.StreamErrorCode) error { return s.Reset() }

func (s *stream) SetDeadline(t time.Time) error {
	s.SetReadDeadline(t)
	return s.SetWriteDeadline(t)
}

func (s *stream) SetReadDeadline(t time.Time) error {
	s.in.update(func(p *pipe) { p.rdl = t })
	return nil
}

func (s *stream) SetWriteDeadline(t time.Time) error {
	s.out.update(func(p *pipe) { p.wdl = t })
	return nil
}
