package node

import (
	"context"
	"runtime"
	rtmetrics "runtime/metrics"
	"testing"
	"time"
)

// A node with MemoryTrim hands freed heap back to the system: after 256 MiB
// of garbage the runtime's free heap falls back under the floor (plus a
// margin for what other tests of this process allocate meanwhile).
func TestMemoryTrimReturnsFreedHeap(t *testing.T) {
	n, err := New(context.Background(), Config{Mode: ModeClient, Network: "test-memtrim", Ephemeral: true,
		MemoryTrim: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	garbage := make([][]byte, 0, 256)
	for range 256 {
		garbage = append(garbage, make([]byte, 1<<20))
	}
	for i := range garbage {
		garbage[i][0] = 1
	}
	garbage = nil
	runtime.GC() // the garbage is now free heap, still resident
	sample := []rtmetrics.Sample{{Name: freeHeap}}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		rtmetrics.Read(sample)
		free := sample[0].Value.Uint64()
		if free < trimFloor+32<<20 {
			t.Logf("free heap held: %d MiB", free>>20)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the runtime still holds %d MiB of free heap after a minute", free>>20)
		}
	}
}
