package executor

import (
	"bytes"
	"testing"
)

// TestHeapMemory checks the Go heap memory used where no mapping can be
// had: it grows up to its maximum, keeping its contents, new bytes zero.
func TestHeapMemory(t *testing.T) {
	const page = PageSize
	m := newHeapMemory(page, 8*page)
	buf := m.Reallocate(page)
	if len(buf) != page {
		t.Fatalf("len %d, want %d", len(buf), page)
	}
	buf[0], buf[page-1] = 1, 2
	for size := uint64(2 * page); size <= 8*page; size += page {
		buf = m.Reallocate(size)
		if uint64(len(buf)) != size || buf[0] != 1 || buf[page-1] != 2 ||
			!bytes.Equal(buf[page:], make([]byte, size-page)) {
			t.Fatalf("Reallocate(%d): len %d, contents lost or new bytes not zero", size, len(buf))
		}
	}
	if m.Reallocate(9*page) != nil {
		t.Error("Reallocate past the maximum accepted")
	}
}
