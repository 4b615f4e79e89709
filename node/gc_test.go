package node

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/computemesh/computemesh/content"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/store"
)

// A provider drops a job's outputs once its client's grant has expired
// (plus the grace), and not before.
func TestProviderDropsExpiredOutputs(t *testing.T) {
	t.Parallel()
	small := job.Resources{CPUMillis: 2000, MemoryBytes: 1 << 30}
	var ahead atomic.Int64 // how far the provider's clock is ahead
	clock := func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }
	client, provs := meshOf(t, "test-gc-outputs",
		Config{Region: "eu-west", Rates: job.Rates{CPUHour: job.Nano}, Capacity: small, GCInterval: -1, Clock: clock})
	prov := provs[0]
	out := submit(t, client, guestSpec(t, "write", "/outputs/out.txt"), nil)
	if out.State != job.StateCompleted || out.Outputs == "" {
		t.Fatalf("state %s, outputs %q: %s", out.State, out.Outputs, out.Error)
	}
	mc, _ := job.ParseCID(out.Outputs)
	st, err := prov.content.Stat(context.Background(), mc, content.OutputsBudget(0))
	if err != nil {
		t.Fatalf("the provider does not hold the outputs: %v", err)
	}
	var blobs []string
	for _, c := range st.Blocks {
		blobs = append(blobs, c.String())
	}
	// Past the work-in-flight age, but the grant still runs.
	hourAgo := time.Now().Add(-time.Hour)
	for _, c := range blobs {
		if err := os.Chtimes(filepath.Join(prov.Store().Dir(), c), hourAgo, hourAgo); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := prov.GC(false)
	if err != nil || len(rep.Freed) != 0 {
		t.Fatalf("collection while the grant runs: %+v, %v; want nothing freed", rep, err)
	}
	// The grant and its grace are over.
	ahead.Store(int64(content.OutputsGrant + content.OutputsGrace + time.Minute))
	if rep, err = prov.GC(true); err != nil || len(rep.Freed) != len(blobs) || !prov.Store().Has(mc) {
		t.Fatalf("dry run: %+v, %v; want %d blobs reported, none removed", rep, err, len(blobs))
	}
	rep, err = prov.GC(false)
	if err != nil || len(rep.Freed) != len(blobs) {
		t.Fatalf("collection after the grant: %+v, %v; want the %d outputs blobs freed", rep, err, len(blobs))
	}
	for _, d := range rep.Freed {
		if d.Reason != store.DropExpired {
			t.Errorf("%s dropped for %s, want %s", d.CID, d.Reason, store.DropExpired)
		}
	}
	if left := prov.content.Held(); left != 0 {
		t.Errorf("%d outputs still tracked after they were dropped", left)
	}
}

// The API's collection report encodes as the store's does: the CLI's
// --json output is the same whether a node answers or the data dir is
// collected directly.
func TestGCReportEncodesAsTheStores(t *testing.T) {
	t.Parallel()
	at := time.UnixMilli(1_700_000_000_000).UTC()
	for _, r := range []*store.Report{
		{DryRun: true, Blobs: 3, Bytes: 300, Protected: 1, FreedBytes: 200, TempFiles: 2, OverMax: true,
			Freed: []store.Dropped{{Blob: store.Blob{CID: "a", Size: 100, Used: at}, Reason: store.DropAge},
				{Blob: store.Blob{CID: "b", Size: 100, Used: at}, Reason: store.DropSize}}},
		{Blobs: 1, Bytes: 10, Freed: []store.Dropped{}},
		{},
	} {
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := json.Marshal(gcReport(r))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("api report %s\nstore report %s", got, want)
		}
	}
	if gcReport(nil) != nil {
		t.Error("no store report became an API report")
	}
}
