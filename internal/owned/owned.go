package owned

import (
	"sync"

	"github.com/libp2p/go-libp2p/core/network"
)

// Group owns goroutines. The zero value is ready to use; a Group must not
// be copied after first use.
type Group struct {
	wg      sync.WaitGroup
	mu      sync.Mutex
	closing bool
}

// Enter counts one more goroutine of g and reports true, unless g is
// closing; the caller calls Done when that goroutine ends.
func (g *Group) Enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closing {
		return false
	}
	g.wg.Add(1)
	return true
}

// Done ends a goroutine counted by Enter.
func (g *Group) Done() { g.wg.Done() }

// Go runs f on a goroutine g owns; it reports false (and runs nothing)
// once g is closing.
func (g *Group) Go(f func()) bool {
	if !g.Enter() {
		return false
	}
	go func() {
		defer g.wg.Done()
		f()
	}()
	return true
}

// Handler wraps h so that each stream's handler is owned by g: Close waits
// for it, and a stream that arrives once g is closing is reset.
func (g *Group) Handler(h network.StreamHandler) network.StreamHandler {
	return func(s network.Stream) {
		if !g.Enter() {
			_ = s.Reset()
			return
		}
		defer g.wg.Done()
		h(s)
	}
}

// Stop marks g closing: nothing starts after it. Stop it before ending
// what its goroutines wait on (a context, a network), then Wait.
func (g *Group) Stop() {
	g.mu.Lock()
	g.closing = true
	g.mu.Unlock()
}

// Wait waits for every goroutine g owns; call it after Stop.
func (g *Group) Wait() { g.wg.Wait() }

// Close stops g and waits for its goroutines.
func (g *Group) Close() {
	g.Stop()
	g.Wait()
}
