package award

import (
	"sync"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/mesh"
	"github.com/libp2p/go-libp2p/core/network"
)

// Limits of a job's live log stream to its client.
const (
	logFlushEvery = 100 * time.Millisecond
	logMaxPending = 256 << 10 // bytes waiting to be sent; beyond, output is dropped (the result still keeps its capped copy)
	logMaxTotal   = 8 << 20   // bytes streamed per job
	logWriteWait  = 10 * time.Second
)

// logStream owns the writing side of an award stream while a job waits and
// runs: it sends what the job writes to its client as log replies, in
// chunks, every logFlushEvery or when a chunk fills, and a heartbeat when
// the stream has been quiet for HeartbeatEvery. It never blocks the job:
// what the stream cannot take in time is dropped and a marker says so.
type logStream struct {
	mu       sync.Mutex
	s        network.Stream
	pending  []byte
	sent     int
	dropped  int
	lastSent time.Time
	done     chan struct{}
	wg       sync.WaitGroup
	closed   sync.Once
}

func newLogStream(s network.Stream) *logStream {
	l := &logStream{s: s, done: make(chan struct{}), lastSent: time.Now()}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		t := time.NewTicker(logFlushEvery)
		defer t.Stop()
		for {
			select {
			case <-l.done:
				return
			case <-t.C:
				l.flush()
				l.heartbeat()
			}
		}
	}()
	return l
}

// Write implements io.Writer for the executor.
func (l *logStream) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	room := min(logMaxPending-len(l.pending), logMaxTotal-l.sent-len(l.pending))
	if room < len(p) {
		l.dropped += len(p) - max(room, 0)
		p = p[:max(room, 0)]
	}
	l.pending = append(l.pending, p...)
	return len(p), nil
}

// Send writes one reply (queued, accepted) in order with the logs.
func (l *logStream) Send(r job.Reply) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flushLocked()
	return l.writeLocked(r)
}

func (l *logStream) writeLocked(r job.Reply) error {
	_ = l.s.SetWriteDeadline(time.Now().Add(logWriteWait))
	err := mesh.WriteMsg(l.s, r)
	if err == nil {
		l.lastSent = time.Now()
	}
	return err
}

func (l *logStream) heartbeat() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if time.Since(l.lastSent) >= HeartbeatEvery {
		_ = l.writeLocked(job.Reply{Type: job.ReplyHeartbeat})
	}
}

func (l *logStream) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flushLocked()
}

func (l *logStream) flushLocked() {
	for len(l.pending) > 0 {
		n := min(len(l.pending), job.MaxLogChunk)
		if err := l.writeLocked(job.Reply{Type: job.ReplyLog, Log: l.pending[:n]}); err != nil {
			l.dropped += len(l.pending)
			l.pending = nil
			return
		}
		l.sent += n
		l.pending = l.pending[n:]
	}
	l.pending = nil
}

// Close sends what is pending (and a marker when output was dropped) and
// stops the flusher, once. The stream stays open for the result.
func (l *logStream) Close() {
	l.closed.Do(l.close)
}

func (l *logStream) close() {
	close(l.done)
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.dropped > 0 {
		l.pending = append(l.pending, []byte("\n[computemesh: live log truncated; the result keeps the job's capped output]\n")...)
	}
	l.flushLocked()
}
