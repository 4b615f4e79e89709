package sim

import (
	"container/heap"
	"time"
)

// Loop is a discrete-event loop in virtual time: events run in order of
// their time, and events due at the same time in the order they were
// scheduled, so a run repeats exactly. Nothing sleeps.
type Loop struct {
	now time.Duration
	seq uint64
	q   events
}

type event struct {
	at  time.Duration
	seq uint64
	f   func()
}

type events []event

func (e events) Len() int { return len(e) }
func (e events) Less(i, j int) bool {
	if e[i].at != e[j].at {
		return e[i].at < e[j].at
	}
	return e[i].seq < e[j].seq
}
func (e events) Swap(i, j int) { e[i], e[j] = e[j], e[i] }
func (e *events) Push(x any)   { *e = append(*e, x.(event)) }
func (e *events) Pop() any {
	old := *e
	x := old[len(old)-1]
	old[len(old)-1] = event{}
	*e = old[:len(old)-1]
	return x
}

// Now is the virtual time of the event being run (or of the last one run).
func (l *Loop) Now() time.Duration { return l.now }

// At schedules f at virtual time t; a time in the past runs at Now, after
// the events already due then.
func (l *Loop) At(t time.Duration, f func()) {
	t = max(t, l.now)
	l.seq++
	heap.Push(&l.q, event{at: t, seq: l.seq, f: f})
}

// After schedules f d after Now.
func (l *Loop) After(d time.Duration, f func()) { l.At(l.now+d, f) }

// Pending is the number of events not yet run.
func (l *Loop) Pending() int { return len(l.q) }

// Run runs events until none is left or the next is after until (0: no
// limit), and returns how many it ran.
func (l *Loop) Run(until time.Duration) int {
	n := 0
	for len(l.q) > 0 {
		if until > 0 && l.q[0].at > until {
			break
		}
		e := heap.Pop(&l.q).(event)
		l.now = e.at
		e.f()
		n++
	}
	return n
}
