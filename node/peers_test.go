package node

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
)

// A node remembers its peers in its data dir and rejoins them after a
// restart without any bootstrap address.
func TestRejoinWithoutBootstrap(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := func(dir string, boot []string) Config {
		return Config{
			DataDir: dir, Mode: ModeProvider, Region: "eu-west", Rates: job.Rates{CPUHour: job.Nano},
			Network: "test-rejoin", Bootstrap: boot, Listen: []string{"/ip4/127.0.0.1/tcp/0"},
			Capacity: job.Resources{CPUMillis: 1000, MemoryBytes: 1 << 30}, Hardware: testHardware(t),
		}
	}
	a, err := New(ctx, cfg(t.TempDir(), nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	dirB := t.TempDir()
	b, err := New(ctx, cfg(dirB, []string{a.Mesh().Addrs()[0].String()}))
	if err != nil {
		t.Fatal(err)
	}
	b.Close() // saves its peers
	if _, err := os.Stat(filepath.Join(dirB, "peers.json")); err != nil {
		t.Fatalf("no peers file after close: %v", err)
	}
	b, err = New(ctx, cfg(dirB, nil)) // no bootstrap at all
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	deadline := time.Now().Add(30 * time.Second)
	for len(b.Mesh().Host().Network().ConnsToPeer(a.ID())) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the restarted node did not rejoin its known peer")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
