package provider

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/libp2p/go-libp2p/core/peer"
)

func queued(i int) *job.Request { return &job.Request{Job: fmt.Sprint(i)} }

func popAll(t *testing.T, q *requestQueue, n int) []string {
	t.Helper()
	var out []string
	for range n {
		r, ok := q.pop(t.Context())
		if !ok {
			t.Fatal("pop ended")
		}
		out = append(out, string(r.from)+":"+r.r.Job)
	}
	return out
}

// A client's backlog delays another client's request by one answer, not
// by the backlog; each client's requests keep their order.
func TestRequestQueueServesClientsInTurn(t *testing.T) {
	t.Parallel()
	q := newRequestQueue()
	flood, honest := peer.ID("flood"), peer.ID("honest")
	for i := range 100 {
		q.push(queued(i), flood)
	}
	q.push(queued(0), honest)
	q.push(queued(1), honest)
	got := popAll(t, q, 6)
	want := []string{"flood:0", "honest:0", "flood:1", "honest:1", "flood:2", "flood:3"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("served %v, want %v", got, want)
	}
	if q.len() != 96 {
		t.Fatalf("%d waiting, want 96", q.len())
	}
}

// One client's queue and the whole queue are bounded: past the first, the
// client's oldest request goes; past the second, a new client's request is
// dropped. Both are counted.
func TestRequestQueueBounded(t *testing.T) {
	t.Parallel()
	q := newRequestQueue()
	a := peer.ID("a")
	for i := range maxQueuedPerClient + 10 {
		q.push(queued(i), a)
	}
	if q.len() != maxQueuedPerClient || q.shed.Load() != 10 {
		t.Fatalf("%d waiting, %d shed; want %d, 10", q.len(), q.shed.Load(), maxQueuedPerClient)
	}
	if got := popAll(t, q, 1); got[0] != "a:10" {
		t.Fatalf("first served %s, want a:10 (the 10 oldest dropped)", got[0])
	}
	q = newRequestQueue()
	for c := 0; q.len() < maxQueued; c++ {
		for i := range maxQueuedPerClient {
			q.push(queued(i), peer.ID(fmt.Sprint("c", c)))
		}
	}
	q.push(queued(0), peer.ID("late"))
	if q.len() != maxQueued || q.shed.Load() != 1 {
		t.Fatalf("%d waiting, %d shed; want %d, 1", q.len(), q.shed.Load(), maxQueued)
	}
}

// pop waits for a request and returns when its context ends.
func TestRequestQueuePopWaits(t *testing.T) {
	t.Parallel()
	q := newRequestQueue()
	go func() {
		time.Sleep(50 * time.Millisecond)
		q.push(queued(7), "late")
	}()
	if got := popAll(t, q, 1); got[0] != "late:7" {
		t.Fatalf("popped %v", got)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, ok := q.pop(ctx); ok {
		t.Fatal("pop on an empty queue with a cancelled context returned a request")
	}
}
