package provider

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/computemesh/computemesh/job"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Bounds of the queue of job requests a provider has yet to answer.
const (
	// maxQueuedPerClient is how many of one client's requests wait at most;
	// past it, its oldest is dropped (its bid window is the likeliest to
	// have closed).
	maxQueuedPerClient = 512
	// maxQueued is how many requests wait at most in all.
	maxQueued = 16384
)

// queuedRequest is a job request waiting for its answer.
type queuedRequest struct {
	r    *job.Request
	from peer.ID
}

// requestQueue holds the job requests a provider has yet to answer, one
// queue per client served in turn, so that a client that sends many at
// once delays another's by at most one answer per client ahead of it, never
// by its whole backlog.
type requestQueue struct {
	mu      sync.Mutex
	clients map[peer.ID][]queuedRequest
	turn    []peer.ID // clients with requests waiting, in serving order
	total   int
	wake    chan struct{}
	shed    atomic.Int64 // requests dropped unanswered
}

func newRequestQueue() *requestQueue {
	return &requestQueue{clients: map[peer.ID][]queuedRequest{}, wake: make(chan struct{}, 1)}
}

// push queues a request of its author, from.
func (q *requestQueue) push(r *job.Request, from peer.ID) {
	q.mu.Lock()
	waiting, ok := q.clients[from]
	if !ok {
		if q.total >= maxQueued {
			q.mu.Unlock()
			q.shed.Add(1)
			return
		}
		q.turn = append(q.turn, from)
	}
	if len(waiting) >= maxQueuedPerClient {
		waiting = waiting[1:]
		q.total--
		q.shed.Add(1)
	} else if q.total >= maxQueued {
		q.mu.Unlock()
		q.shed.Add(1)
		return
	}
	q.clients[from] = append(waiting, queuedRequest{r, from})
	q.total++
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// pop returns the next request: the oldest of the client whose turn it is.
// It waits for one until ctx ends.
func (q *requestQueue) pop(ctx context.Context) (queuedRequest, bool) {
	for {
		q.mu.Lock()
		if len(q.turn) > 0 {
			c := q.turn[0]
			waiting := q.clients[c]
			next := waiting[0]
			waiting[0] = queuedRequest{}
			waiting = waiting[1:]
			q.total--
			q.turn = q.turn[1:]
			if len(waiting) == 0 {
				delete(q.clients, c)
			} else {
				q.clients[c] = waiting
				q.turn = append(q.turn, c)
			}
			if len(q.turn) == 0 {
				q.turn = nil // let a flood's backing array go
			}
			more := q.total > 0
			q.mu.Unlock()
			if more { // another worker may take the next
				select {
				case q.wake <- struct{}{}:
				default:
				}
			}
			return next, true
		}
		q.mu.Unlock()
		select {
		case <-ctx.Done():
			return queuedRequest{}, false
		case <-q.wake:
		}
	}
}

// len returns how many requests wait.
func (q *requestQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.total
}
