package sim

import (
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/scheduler"
)

// clientState is what the simulated computemesh clients know of their own,
// as the real client does (client/backlog.go, client.slottedAuction): each
// one's unfinished awards per provider, with when they were sent, and,
// under Config.MaxAuctions, its auctions in flight and the jobs it holds
// back until one ends.
type clientState struct {
	sent   map[backlogKey][]time.Duration
	awards map[int]func() // by job index: ends its award in the backlog
	open   map[int]int    // auctions in flight, by client
	held   map[int][]*Job // jobs held back, by client, oldest first
}

type backlogKey struct{ client, provider int }

// award records job j's award to provider p, sent at now, and returns what
// ends it there (once: on a decline, or when the result reaches the
// client, see resulted).
func (c *clientState) award(j *Job, p int, now time.Duration) (end func()) {
	if c.sent == nil {
		c.sent, c.awards = map[backlogKey][]time.Duration{}, map[int]func(){}
	}
	k := backlogKey{j.Client, p}
	c.sent[k] = append(c.sent[k], now)
	done := false
	end = func() {
		if done {
			return
		}
		done = true
		list := c.sent[k]
		for i, at := range list {
			if at == now {
				list = append(list[:i], list[i+1:]...)
				break
			}
		}
		if len(list) == 0 {
			delete(c.sent, k)
		} else {
			c.sent[k] = list
		}
		delete(c.awards, j.Index)
	}
	c.awards[j.Index] = end
	return end
}

// resulted ends job j's award in the backlog once its result reaches the
// client, oneWay after it finished.
func (c *clientState) resulted(l *Loop, j *Job, oneWay time.Duration) {
	if end := c.awards[j.Index]; end != nil {
		l.After(oneWay, end)
	}
}

// backlog is client's backlog at provider p for job j as of a bid that
// arrived at arrived, as the real client computes it.
func (c *clientState) backlog(j *Job, p int, arrived time.Duration, rec *job.Capacity, estimate time.Duration) scheduler.Backlog {
	list := c.sent[backlogKey{j.Client, p}]
	unseen := 0
	for _, at := range list {
		if at > arrived {
			unseen++
		}
	}
	return scheduler.Backlog{InFlight: len(list), Unseen: unseen, Slots: scheduler.SlotsFor(rec.Total, j.Spec.Resources),
		Run: scheduler.BacklogRun(estimate, 0, &j.Spec)}
}

// begin reports whether j's client may start an auction now, under max
// auctions at once (0: no limit); if not, j is held back until one ends.
func (c *clientState) begin(j *Job, max int) bool {
	if max <= 0 {
		return true
	}
	if c.open == nil {
		c.open, c.held = map[int]int{}, map[int][]*Job{}
	}
	if c.open[j.Client] >= max {
		c.held[j.Client] = append(c.held[j.Client], j)
		return false
	}
	c.open[j.Client]++
	return true
}

// end ends an auction of client and returns the job held back longest, to
// start next (nil: none).
func (c *clientState) end(client, max int) *Job {
	if max <= 0 {
		return nil
	}
	c.open[client]--
	h := c.held[client]
	if len(h) == 0 {
		return nil
	}
	next := h[0]
	h[0] = nil
	c.held[client] = h[1:]
	return next
}
