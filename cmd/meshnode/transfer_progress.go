package main

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/unixfs"
)

// transferProgress shows a long transfer on w (for people: stderr): once
// it has run a second, every second, how much has gone and how fast, and
// the total at the end. A short one prints nothing. It returns the
// context the transfer runs under and the func that ends the showing.
func transferProgress(ctx context.Context, w io.Writer, verb string) (context.Context, func()) {
	var n atomic.Int64
	start := time.Now()
	stop, done := make(chan struct{}), make(chan struct{})
	printed := false
	line := func(end string) {
		b, secs := n.Load(), time.Since(start).Seconds()
		fmt.Fprintf(w, "%s: %s in %.1f s (%.0f MB/s)%s\n", verb, job.FormatSize(uint64(b)), secs, float64(b)/secs/1e6, end)
		printed = true
	}
	go func() {
		defer close(done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				line("")
			}
		}
	}()
	return unixfs.WithProgress(ctx, func(b int64) { n.Add(b) }), func() {
		close(stop)
		<-done
		if printed {
			line(", done")
		}
	}
}
