package mesh

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/computemesh/computemesh/job"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// A busy client gathers the job requests it publishes into batches (one
// jobs topic message, job.RequestBatch), so that every node of the network
// checks one signature and handles one message for many jobs. Batching
// happens only under load: a request published when the previous one went
// out more than the linger ago is published at once; one that follows
// closely waits up to the linger for others to join it. A single job is
// never delayed, a stream of them by at most the linger (a few ms, against
// an auction's bid window of hundreds).

// DefaultRequestLinger is how long a request published close behind
// another waits for more to join its batch.
const DefaultRequestLinger = 10 * time.Millisecond

// RequestLinger sets how long a request published within d of the previous
// one waits for others to join its batch; 0 publishes every request alone.
// Default: DefaultRequestLinger.
func RequestLinger(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 || d > time.Second {
			return errorf("request linger %v: must be 0 to 1s", d)
		}
		c.requestLinger = d
		return nil
	}
}

// pendingRequest is a request waiting for its batch to be published.
type pendingRequest struct {
	r    *job.Request
	enc  []byte
	done chan error
}

// requestBatcher publishes one jobs topic's requests, in batches.
type requestBatcher struct {
	m      *Mesh
	topic  *pubsub.Topic
	linger time.Duration
	q      chan *pendingRequest
}

func newRequestBatcher(m *Mesh, topic *pubsub.Topic) *requestBatcher {
	b := &requestBatcher{m: m, topic: topic, linger: m.cfg.requestLinger, q: make(chan *pendingRequest, job.MaxBatchRequests)}
	m.wg.Add(1)
	go b.loop()
	return b
}

// publish queues r and waits until its batch is published.
func (b *requestBatcher) publish(ctx context.Context, r *job.Request) error {
	p := &pendingRequest{r: r, enc: job.Encode(r), done: make(chan error, 1)}
	if b.linger == 0 {
		return b.paced(ctx, 1, p.enc)
	}
	select {
	case b.q <- p:
	case <-ctx.Done():
		return ctx.Err()
	case <-b.m.ctx.Done():
		return errorf("mesh closed")
	}
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-b.m.ctx.Done():
		return errorf("mesh closed")
	}
}

// loop publishes batches until the mesh closes.
func (b *requestBatcher) loop() {
	defer b.m.wg.Done()
	var last time.Time
	var carry *pendingRequest
	for {
		first := carry
		if first == nil {
			select {
			case first = <-b.q:
			case <-b.m.ctx.Done():
				return
			}
		}
		var until <-chan time.Time
		var t *time.Timer
		if time.Since(last) < b.linger {
			t = time.NewTimer(b.linger)
			until = t.C
		}
		var batch []*pendingRequest
		batch, carry = b.gather([]*pendingRequest{first}, len(first.enc), until)
		if t != nil {
			t.Stop()
		}
		last = time.Now()
		b.send(batch)
	}
}

// gather adds queued requests to batch while they fit: those already
// waiting, and, where until is not nil, those that come before it. It
// returns the batch and a request that did not fit (the next batch's first).
func (b *requestBatcher) gather(batch []*pendingRequest, size int, until <-chan time.Time) ([]*pendingRequest, *pendingRequest) {
	for len(batch) < job.MaxBatchRequests {
		var p *pendingRequest
		select {
		case p = <-b.q:
		default:
			if until == nil {
				return batch, nil
			}
			select {
			case p = <-b.q:
			case <-until:
				return batch, nil
			case <-b.m.ctx.Done():
				return batch, nil
			}
		}
		if job.BatchSize(len(batch)+1, size+len(p.enc)) > job.MaxGossipSize {
			return batch, p
		}
		batch = append(batch, p)
		size += len(p.enc)
	}
	return batch, nil
}

// send publishes a batch and tells each of its requests how it went.
func (b *requestBatcher) send(batch []*pendingRequest) {
	enc := make([][]byte, len(batch))
	for i, p := range batch {
		enc[i] = p.enc
	}
	err := b.paced(b.m.ctx, len(batch), job.EncodeRequests(enc))
	for _, p := range batch {
		p.done <- err
	}
}

// paced publishes a message of n requests once the node's own pacer
// allows it: a client faster than the per-author limit that its peers
// enforce (RequestRate) is slowed down, never dropped. Should the node's
// own validator ignore it all the same (the pacer's headroom spent), it
// takes its turn again.
func (b *requestBatcher) paced(ctx context.Context, n int, msg []byte) error {
	for try := 1; ; try++ {
		done, err := b.m.pace.take(ctx, n)
		if err != nil {
			return err
		}
		over := b.m.limit.over.Load()
		err = b.topic.Publish(ctx, msg)
		done()
		var verr pubsub.ValidationError
		if !errors.As(err, &verr) || verr.Reason != pubsub.RejectValidationIgnored || b.m.limit.over.Load() == over || try == maxPaceTries {
			return err // not the rate (or not only): as it is
		}
	}
}

// maxPaceTries bounds paced's tries of one message.
const maxPaceTries = 8

// decodeRequests decodes a jobs topic message of class (one request or a
// batch: job.DecodeRequests) and checks that its author made each request
// and that each is of the topic's class; the author's rate (requestRate)
// is checked after.
func (t *topics) decodeRequests(b []byte, from peer.ID, class string) (any, string) {
	rs, err := job.DecodeRequests(b, job.MaxGossipSize)
	if err != nil {
		log.Debugw("dropping a job request", "client", from, "reason", DropDecode, "err", err)
		return nil, DropDecode
	}
	author := from.String()
	for _, r := range rs {
		if r.Client != author {
			log.Debugw("dropping a job request", "peer", from, "client", r.Client, "job", r.Job, "reason", DropForged)
			return nil, DropForged
		}
		if c := ClassOf(r); c != class {
			log.Debugw("dropping a job request on another class's topic", "client", from, "job", r.Job, "class", c, "topic", class, "reason", DropDecode)
			return nil, DropDecode
		}
	}
	return rs, ""
}

// requestRate is the jobs topics' rate check: a token per request of the
// message from its author's bucket.
func (t *topics) requestRate(author peer.ID, v any) bool {
	rs, _ := v.([]*job.Request)
	return t.m.limit.allowN(author, len(rs), time.Now())
}

// RequestsHeard counts the valid jobs topic messages a node handled and
// the requests they carried (more requests than messages: batches).
type RequestsHeard struct {
	Messages, Requests atomic.Int64
}

// RequestsHeard returns the counters of the job requests this node heard.
func (m *Mesh) RequestsHeard() *RequestsHeard { return &m.topics.heard }
