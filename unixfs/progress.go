package unixfs

import "context"

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
