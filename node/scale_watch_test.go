package node

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/libp2p/go-libp2p/core/peer"
)

// lookEvery is how often a watcher starts a look-up (at most: one starts
// when the last has ended, and not sooner than this after it began).
const lookEvery = time.Second

// watch times providers' announcements as client nodes find them, by the
// two ways a client's discovery lists a provider for a job (client
// candidates): each watcher looks up "cpu" (Mesh.FindProviders, to the
// look-up's end) again and again (every lookEvery at most, the watchers
// taking turns), and fetches and verifies the capacity record
// (Mesh.GetCapacity) of every provider it lists that no watcher has
// verified yet, 4 at once, without holding up its next look-up; and every
// heardEvery it asks its client which providers it holds a gossiped,
// verified record of (Client.Heard, which a job's candidates include). A
// provider is found when the first watcher holds its verified record
// either way.
type watch struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	start    map[peer.ID]time.Time // node.New returned
	done     map[peer.ID]time.Time // its first round of announcements done (Node.Announced)
	rt       map[peer.ID]time.Time // its DHT routing table's first peer
	seen     map[peer.ID]time.Time // first listed by a look-up that had ended
	verified map[peer.ID]time.Time // first record verified
	heard    map[peer.ID]time.Time // first held as a gossiped record (Client.Heard)
	lookups  int
	lookupD  []time.Duration
}

func newWatch() *watch {
	w := &watch{start: map[peer.ID]time.Time{}, done: map[peer.ID]time.Time{}, rt: map[peer.ID]time.Time{}, seen: map[peer.ID]time.Time{}, verified: map[peer.ID]time.Time{}, heard: map[peer.ID]time.Time{}}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	return w
}

// started notes that provider n's node.New has returned, and then when
// its capabilities are on the DHT.
func (w *watch) started(n *Node) {
	w.mu.Lock()
	w.start[n.ID()] = time.Now()
	w.mu.Unlock()
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		rt, seen := n.Mesh().DHT().RoutingTable(), false
		for tick := time.NewTicker(10 * time.Millisecond); ; {
			select {
			case <-n.Announced():
				tick.Stop()
				w.mu.Lock()
				w.done[n.ID()] = time.Now()
				w.mu.Unlock()
				return
			case <-w.ctx.Done():
				tick.Stop()
				return
			case <-tick.C:
				if !seen && rt.Size() > 0 {
					seen = true
					w.mu.Lock()
					w.rt[n.ID()] = time.Now()
					w.mu.Unlock()
				}
			}
		}
	}()
}

// stop ends the watchers and waits for them.
func (w *watch) stop() {
	w.cancel()
	w.wg.Wait()
}

// run makes n a watcher until stop, its first look-up after delay (so that
// watchers take turns).
func (w *watch) run(n *Node, delay time.Duration) {
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		select {
		case <-w.ctx.Done():
		case <-time.After(delay):
		}
		w.wg.Add(1)
		go w.listen(n)
		var fetching sync.Map // peer.ID → this watcher fetches it now
		sem := make(chan struct{}, 4)
		for w.ctx.Err() == nil {
			ctx, cancel := context.WithTimeout(w.ctx, 10*time.Second)
			t0 := time.Now()
			found := n.Mesh().FindProviders(ctx, "cpu")
			cancel()
			todo := w.listed(found, t0, time.Now())
			for _, p := range todo {
				if _, busy := fetching.LoadOrStore(p, true); busy {
					continue
				}
				w.wg.Add(1)
				go func() {
					defer w.wg.Done()
					defer fetching.Delete(p)
					select {
					case sem <- struct{}{}:
					case <-w.ctx.Done():
						return
					}
					defer func() { <-sem }()
					w.verify(n, p)
				}()
			}
			select { // one look-up started every lookEvery at most
			case <-w.ctx.Done():
			case <-time.After(time.Until(t0.Add(lookEvery))):
			}
		}
	}()
}

// heardEvery is how often a watcher asks its client for the providers it
// holds a gossiped record of.
const heardEvery = 100 * time.Millisecond

// listen notes, every heardEvery until stop, the providers whose verified
// record n's client holds (Client.Heard: what a job's candidates include).
func (w *watch) listen(n *Node) {
	defer w.wg.Done()
	t := time.NewTicker(heardEvery)
	defer t.Stop()
	for {
		select {
		case <-w.ctx.Done():
			return
		case <-t.C:
		}
		ids, now := n.client.Heard(job.Need{}), time.Now()
		w.mu.Lock()
		for _, p := range ids {
			if _, ok := w.heard[p]; !ok {
				w.heard[p] = now
			}
			if _, ok := w.verified[p]; !ok {
				w.verified[p] = now
			}
		}
		w.mu.Unlock()
	}
}

// listed notes a look-up (begun at t0, ended at t1) and returns the
// providers it listed whose record no watcher has verified yet.
func (w *watch) listed(found []peer.AddrInfo, t0, t1 time.Time) []peer.ID {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ctx.Err() == nil && len(found) > 0 {
		w.lookups++
		w.lookupD = append(w.lookupD, t1.Sub(t0))
	}
	var todo []peer.ID
	for _, ai := range found {
		if _, ok := w.seen[ai.ID]; !ok {
			w.seen[ai.ID] = t1
		}
		if _, ok := w.verified[ai.ID]; !ok {
			todo = append(todo, ai.ID)
		}
	}
	return todo
}

// verify fetches and verifies p's capacity record as a client does.
func (w *watch) verify(n *Node, p peer.ID) {
	ctx, cancel := context.WithTimeout(w.ctx, 5*time.Second)
	defer cancel()
	if _, err := n.Mesh().GetCapacity(ctx, p); err != nil {
		return
	}
	w.mu.Lock()
	if _, ok := w.verified[p]; !ok {
		w.verified[p] = time.Now()
	}
	w.mu.Unlock()
}

// missing counts the providers among ids whose record no watcher has
// verified yet.
func (w *watch) missing(ids []peer.ID) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	k := 0
	for _, p := range ids {
		if _, ok := w.verified[p]; !ok {
			k++
		}
	}
	return k
}

// findings are the times the joiners' announcements took to be found.
type findings struct {
	all, missing         int       // providers, and those never found
	joined               latencies // node.New returned → verified record held by a watcher
	seenJoined           latencies // node.New returned → listed by a look-up
	heardJoined          latencies // node.New returned → its gossiped record held (Client.Heard)
	doneJoined           latencies // node.New returned → its own announcements done
	rtJoined             latencies // node.New returned → its routing table's first peer
	lookups              int
	lookupP50, lookupP90 time.Duration
	slow                 []string // the joiners found after 2 s, or never
}

// latencies are durations with the count of those that never happened.
type latencies struct {
	d     []time.Duration
	never int
}

func (l *latencies) add(from, to time.Time, ok bool) {
	if !ok {
		l.never++
		return
	}
	l.d = append(l.d, to.Sub(from))
}

func (l latencies) within(max time.Duration) int {
	k := 0
	for _, d := range l.d {
		if d <= max {
			k++
		}
	}
	return k
}

func (l latencies) n() int { return len(l.d) + l.never }

func (l latencies) String() string {
	if len(l.d) == 0 {
		return fmt.Sprintf("none found of %d", l.n())
	}
	s := slices.Clone(l.d)
	slices.Sort(s)
	q := func(f float64) time.Duration { return s[min(len(s)-1, int(f*float64(len(s))))].Round(time.Millisecond) }
	return fmt.Sprintf("%d of %d within 2 s (%.1f %%); p50 %v, p90 %v, p99 %v, max %v; never found %d",
		l.within(2*time.Second), l.n(), 100*float64(l.within(2*time.Second))/float64(l.n()), q(0.5), q(0.9), q(0.99), s[len(s)-1].Round(time.Millisecond), l.never)
}

// report sums up the providers ids, of whom joined joined the formed mesh.
func (w *watch) report(ids, joined []peer.ID) findings {
	w.mu.Lock()
	defer w.mu.Unlock()
	var f findings
	for _, p := range ids {
		f.all++
		if _, ok := w.verified[p]; !ok {
			f.missing++
		}
	}
	for i, p := range joined {
		st := w.start[p]
		v, ok := w.verified[p]
		f.joined.add(st, v, ok)
		if !ok || v.Sub(st) > 2*time.Second {
			f.slow = append(f.slow, fmt.Sprintf("#%d at +%v: found %v, heard %v, listed %v, announced %v", i, st.Sub(w.start[joined[0]]).Round(time.Second),
				since(st, v, ok), since(st, w.heard[p], !w.heard[p].IsZero()), since(st, w.seen[p], !w.seen[p].IsZero()), since(st, w.done[p], !w.done[p].IsZero())))
		}
		sn, sok := w.seen[p]
		f.seenJoined.add(st, sn, sok)
		h, hok := w.heard[p]
		f.heardJoined.add(st, h, hok)
		d, dok := w.done[p]
		f.doneJoined.add(st, d, dok)
		r, rok := w.rt[p]
		f.rtJoined.add(st, r, rok)
	}
	f.lookups = w.lookups
	s := slices.Clone(w.lookupD)
	slices.Sort(s)
	if len(s) > 0 {
		f.lookupP50, f.lookupP90 = s[len(s)/2], s[len(s)*9/10]
	}
	return f
}

// since is t − from, or "never".
func since(from, t time.Time, ok bool) string {
	if !ok {
		return "never"
	}
	return t.Sub(from).Round(10 * time.Millisecond).String()
}

func (f findings) String() string {
	return fmt.Sprintf("providers %d (never found %d)\njoining the formed mesh: found %v\n  listed by a look-up %v\n  gossiped record held %v\n  own announcements done %v\n  routing table's first peer %v\n%d look-ups, p50 %v, p90 %v\nfound after 2 s:\n  %s",
		f.all, f.missing, f.joined, f.seenJoined, f.heardJoined, f.doneJoined, f.rtJoined, f.lookups, f.lookupP50.Round(time.Millisecond), f.lookupP90.Round(time.Millisecond), strings.Join(f.slow, "\n  "))
}
