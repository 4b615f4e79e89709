package procstat

import (
	"runtime"
	"testing"
)

// A running process has a resident set on Linux, and touching 64 MiB
// more grows it.
func TestRSS(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc/self/status: Linux only")
	}
	before := RSS()
	if before == 0 {
		t.Fatal("no VmRSS read")
	}
	b := make([]byte, 64<<20)
	for i := range b {
		b[i] = 1
	}
	if after := RSS(); after < before+32<<20 {
		t.Fatalf("RSS %d → %d after touching 64 MiB", before, after)
	}
	runtime.KeepAlive(b)
}
