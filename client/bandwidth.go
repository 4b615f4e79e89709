package client

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/unixfs"
)

// bandwidths is what this client measured of its providers' transfer
// rates: each job's outputs fetched from its provider (bytes over the
// time the fetch took), smoothed. The data-locality estimate
// (scheduler.Transfers) takes it for the rate at which a bidder would
// fetch inputs it lacks; a provider not measured yet gets the default.
type bandwidths struct {
	mu    sync.Mutex
	rates map[string]float64 // bytes a second
}

// minMeasured is the least a fetch must move to be a measure: below it,
// round trips, not bandwidth, make its time.
const minMeasured = 4 << 20

// note records a fetch of bytes from provider that took d.
func (b *bandwidths) note(provider string, bytes int64, d time.Duration) {
	if bytes < minMeasured || d <= 0 {
		return
	}
	rate := float64(bytes) / d.Seconds()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.rates == nil {
		b.rates = map[string]float64{}
	}
	if old, ok := b.rates[provider]; ok {
		rate = 0.7*old + 0.3*rate
	}
	b.rates[provider] = rate
}

// of is provider's measured rate (0: none yet).
func (b *bandwidths) of(provider string) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return int64(b.rates[provider])
}

// transferEvents returns the context under which a job's outputs are
// fetched from provider, and the func that ends it: once the fetch has run
// a second, every second, an EventTransfer says how much has come.
func transferEvents(ctx context.Context, provider string, emit func(job.Event)) (context.Context, func()) {
	ctx, stop := unixfs.Meter(ctx, time.Second, func(b int64, d time.Duration) {
		emit(job.Event{Kind: job.EventTransfer, Provider: provider,
			Message: fmt.Sprintf("%s in %.0f s (%.0f MB/s)", job.FormatSize(uint64(b)), d.Seconds(), float64(b)/d.Seconds()/1e6)})
	})
	return ctx, func() { stop() }
}
