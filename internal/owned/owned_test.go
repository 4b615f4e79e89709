package owned

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestCloseWaitsForItsGoroutines(t *testing.T) {
	var g Group
	release := make(chan struct{})
	var ended atomic.Int32
	for range 4 {
		if !g.Go(func() { <-release; ended.Add(1) }) {
			t.Fatal("Go refused before Close")
		}
	}
	closed := make(chan struct{})
	go func() { g.Close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close returned while its goroutines ran")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	<-closed
	if n := ended.Load(); n != 4 {
		t.Fatalf("%d goroutines ended before Close returned, want 4", n)
	}
}

func TestNothingStartsAfterStop(t *testing.T) {
	var g Group
	g.Stop()
	if g.Go(func() { t.Error("ran after Stop") }) {
		t.Fatal("Go reported true after Stop")
	}
	if g.Enter() {
		t.Fatal("Enter reported true after Stop")
	}
	g.Wait()
}
