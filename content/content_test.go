package content

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/store"
	"github.com/libp2p/go-libp2p/core/peer"
)

// noFetch is a Fetcher for tests that must not reach a peer.
type noFetch struct{}

func (noFetch) FetchBlob(context.Context, peer.ID, string, int64) ([]byte, error) {
	return nil, errors.New("no peer in this test")
}

func newContent(t *testing.T, opts ...Option) *Content {
	t.Helper()
	s, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return New(s, noFetch{}, opts...)
}

func TestGrantsExpire(t *testing.T) {
	var ahead atomic.Int64
	c := newContent(t, WithClock(func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }))
	p, q := peer.ID("p"), peer.ID("q")
	c.Grant(p, time.Now().Add(time.Minute), "a", "b")
	if !c.Granted(p, "a") || !c.Granted(p, "b") || c.Granted(q, "a") || c.Granted(p, "c") {
		t.Fatal("a grant reaches only its peer and its blobs")
	}
	c.Grant(p, time.Now().Add(-time.Second), "b") // withdrawn
	if c.Granted(p, "b") || !c.Granted(p, "a") {
		t.Fatal("withdrawing b withdrew the wrong grant")
	}
	ahead.Store(int64(2 * time.Minute))
	if c.Granted(p, "a") {
		t.Fatal("a grant outlived its deadline")
	}
}

func TestBudget(t *testing.T) {
	b := OutputsBudget(10)
	if err := b.Take(6, 1); err != nil {
		t.Fatal(err)
	}
	err := b.Take(5, 1)
	if !errors.Is(err, ErrOverBudget) {
		t.Fatalf("taking past the budget: %v, want ErrOverBudget", err)
	}
	if err := b.Take(4, 1); err != nil {
		t.Fatalf("a refused take spent the budget: %v", err)
	}
	if err := OutputsBudget(0).Take(DefaultOutputBytes, MaxOutputFiles); err != nil {
		t.Fatalf("no reservation means the default limit: %v", err)
	}
	if err := InputsBudget().Take(1, MaxInputFiles+1); !errors.Is(err, ErrOverBudget) {
		t.Fatalf("too many files: %v", err)
	}
}

// Held outputs are kept while their grant (plus OutputsGrace) runs, then
// collected as expired, and forgotten once gone.
func TestHeldOutputsExpire(t *testing.T) {
	var ahead atomic.Int64
	c := newContent(t, WithClock(func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }))
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "out.txt"), []byte("result"), 0o600); err != nil {
		t.Fatal(err)
	}
	root, blobs, err := c.CollectOutputs(context.Background(), dir, 0)
	if err != nil || root == "" || len(blobs) != 2 {
		t.Fatalf("collect: %q %v %v", root, blobs, err)
	}
	// Old enough for the store to drop what nothing keeps.
	old := time.Now().Add(-time.Hour)
	for _, b := range blobs {
		if err := os.Chtimes(filepath.Join(c.Store().Dir(), b), old, old); err != nil {
			t.Fatal(err)
		}
	}
	until := time.Now().Add(OutputsGrant)
	c.Grant("client", until, blobs...)
	c.Hold(until, blobs...)
	if rep, err := c.GC(nil, store.DefaultRetention(), false); err != nil || len(rep.Freed) != 0 {
		t.Fatalf("collection while the grant runs: %+v, %v", rep, err)
	}
	ahead.Store(int64(OutputsGrant + OutputsGrace + time.Minute))
	rep, err := c.GC(nil, store.DefaultRetention(), false)
	if err != nil || len(rep.Freed) != len(blobs) {
		t.Fatalf("collection after grant and grace: %+v, %v; want %d freed", rep, err, len(blobs))
	}
	for _, d := range rep.Freed {
		if d.Reason != store.DropExpired {
			t.Errorf("%s dropped for %s, want %s", d.CID, d.Reason, store.DropExpired)
		}
	}
	if n := c.Held(); n != 0 {
		t.Errorf("%d blobs still held after they were dropped", n)
	}
}

func TestInputBlobsNamesWhatIsMissing(t *testing.T) {
	c := newContent(t)
	id, err := c.Store().Put([]byte("data"), 0x55)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.InputBlobs([]job.Input{{Name: "in", CID: id.String()}})
	if err != nil || len(got) != 1 || got[0] != id.String() {
		t.Fatalf("held input: %v, %v", got, err)
	}
	missing, _ := job.ParseCID("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku")
	_, err = c.InputBlobs([]job.Input{{Name: "other", CID: missing.String()}})
	if err == nil || !strings.Contains(err.Error(), "input other") || !strings.Contains(err.Error(), "not in this node's store") {
		t.Fatalf("missing input: %v, want an error naming it", err)
	}
}

// Outputs found over the limit when they are collected (a job that wrote
// them within one check of the watch, or an executor without one) are
// refused before anything is stored.
func TestCollectOutputsOverLimit(t *testing.T) {
	t.Parallel()
	c := newContent(t)
	tests := []struct {
		name  string
		files int
		size  int
		disk  uint64
		over  bool
	}{
		{"within", 3, 100, 1000, false},
		{"over bytes", 2, 600, 1000, true},
		{"over files", MaxOutputFiles + 1, 0, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for i := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, fmt.Sprint(i)), make([]byte, tc.size), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			id, _, err := c.CollectOutputs(context.Background(), dir, tc.disk)
			if got := errors.Is(err, ErrOutputsOverLimit); got != tc.over {
				t.Fatalf("collect: %q, %v; over the limit: %v, want %v", id, err, got, tc.over)
			}
			if tc.over && id != "" {
				t.Errorf("outputs over the limit were stored as %s", id)
			}
		})
	}
}
