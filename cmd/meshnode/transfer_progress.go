package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/unixfs"
)

// transferProgress shows a long transfer on w (for people: stderr): once
// it has run a second, every second, how much has gone and how fast, and
// the total at the end. A short one prints nothing. It returns the
// context the transfer runs under and the func that ends the showing.
func transferProgress(ctx context.Context, w io.Writer, verb string) (context.Context, func()) {
	printed := false // by the meter's goroutine, read after its stop
	line := func(b int64, d time.Duration, end string) {
		fmt.Fprintf(w, "%s: %s in %.1f s (%.0f MB/s)%s\n", verb, job.FormatSize(uint64(b)), d.Seconds(), float64(b)/d.Seconds()/1e6, end)
	}
	ctx, stop := unixfs.Meter(ctx, time.Second, func(b int64, d time.Duration) {
		line(b, d, "")
		printed = true
	})
	return ctx, func() {
		if b, d := stop(); printed {
			line(b, d, ", done")
		}
	}
}
