package client

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/unixfs"
	"github.com/ipfs/boxo/blockstore"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
)

// A provider's rate is measured from fetches large enough to measure it,
// smoothed over them; one not measured has none (the default applies).
func TestBandwidths(t *testing.T) {
	var b bandwidths
	if b.of("p") != 0 {
		t.Fatal("a rate before any fetch")
	}
	b.note("p", 1<<20, time.Millisecond) // too small: round trips, not bandwidth
	if b.of("p") != 0 {
		t.Fatal("a 1 MiB fetch was taken for a measure")
	}
	b.note("p", 100<<20, time.Second)
	if got := b.of("p"); got != 100<<20 {
		t.Fatalf("after one fetch: %d, want %d", got, 100<<20)
	}
	b.note("p", 10<<20, time.Second) // slower now: the estimate moves towards it
	if got := b.of("p"); got >= 100<<20 || got <= 10<<20 {
		t.Fatalf("after a slower fetch: %d, want between", got)
	}
	if b.of("q") != 0 {
		t.Fatal("another provider got p's rate")
	}
}

// slowReader hands out n bytes over about d.
type slowReader struct {
	n    int
	step time.Duration
}

func (r *slowReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	time.Sleep(r.step)
	k := min(len(p), r.n, 64<<10)
	r.n -= k
	return k, nil
}

// A fetch that runs past a second is shown by transfer events saying how
// much has come; they stop with it.
func TestTransferEvents(t *testing.T) {
	var mu sync.Mutex
	var events []job.Event
	ctx, stop := transferEvents(context.Background(), "prov", func(e job.Event) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	})
	// Anything reporting progress under ctx counts: here an import.
	bs := blockstore.NewBlockstore(dssync.MutexWrap(ds.NewMapDatastore()))
	if _, _, err := unixfs.New(bs).AddFile(ctx, &slowReader{n: 2 << 20, step: 50 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	stop()
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(events)
	}
	n := count()
	if n == 0 {
		t.Fatal("no transfer event in a fetch of more than a second")
	}
	mu.Lock()
	e := events[n-1]
	mu.Unlock()
	if e.Kind != job.EventTransfer || e.Provider != "prov" || !strings.Contains(e.Message, "MiB") {
		t.Fatalf("transfer event: %+v", e)
	}
	time.Sleep(1500 * time.Millisecond)
	if count() != n {
		t.Fatal("transfer events went on after the fetch ended")
	}
}
