package unixfs

import (
	"context"
	"sync/atomic"
	"time"
)

type progressKey struct{}

// WithProgress returns a context under which an import (AddFile, AddTree)
// reports the bytes it reads, an Export the bytes it writes and a Fetch
// the block bytes it gets, to fn, as they go (fn is called from the
// goroutines doing the work: it must be quick and safe for concurrent use).
func WithProgress(ctx context.Context, fn func(bytes int64)) context.Context {
	return context.WithValue(ctx, progressKey{}, fn)
}

// progressOf is ctx's progress function (a no-op without one).
func progressOf(ctx context.Context) func(int64) {
	if fn, ok := ctx.Value(progressKey{}).(func(int64)); ok && fn != nil {
		return fn
	}
	return func(int64) {}
}

// Meter runs a transfer's progress under the returned context (see
// WithProgress) and calls report every interval with the bytes so far and
// the time since the start, until stop, or ctx's end; stop returns the
// totals, and report is never called after it returns.
func Meter(ctx context.Context, every time.Duration, report func(bytes int64, elapsed time.Duration)) (context.Context, func() (int64, time.Duration)) {
	var n atomic.Int64
	start := time.Now()
	halt, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-halt:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				report(n.Load(), time.Since(start))
			}
		}
	}()
	return WithProgress(ctx, func(b int64) { n.Add(b) }), func() (int64, time.Duration) {
		close(halt)
		<-done
		return n.Load(), time.Since(start)
	}
}
