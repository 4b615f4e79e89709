package provider

import (
	"time"
)

// Drain stops the provider from taking new jobs (it declines them as
// busy) and returns a channel closed once the jobs it runs have finished.
// Draining twice is harmless.
func (p *Provider) Drain() <-chan struct{} {
	p.drainOnce.Do(func() {
		p.draining.Store(true)
		p.log.Infow("draining: taking no new jobs", "running", p.reserved.Running())
		wait := func() {
			defer close(p.drained)
			t := time.NewTicker(100 * time.Millisecond)
			defer t.Stop()
			for p.reserved.Running() > 0 {
				select {
				case <-p.ctx.Done():
					return
				case <-t.C:
				}
			}
		}
		if !p.own.Go(wait) {
			close(p.drained) // closing: nothing runs any more
		}
	})
	return p.drained
}

// Drained is closed once a drain has finished (never, without Drain).
func (p *Provider) Drained() <-chan struct{} { return p.drained }

// Draining reports whether Drain was called.
func (p *Provider) Draining() bool { return p.draining.Load() }
