//go:build linux

package executor

import (
	"testing"
	"unsafe"
)

// TestMemoryPool checks the pool's bookkeeping: a freed region is reused for
// the same maximum, zeroed, with no more than keepResidentBytes accessible;
// at most maxIdleMemories are kept; none once the pool is closed.
func TestMemoryPool(t *testing.T) {
	const page, max = PageSize, 16 << 20
	p := newMemoryPool()
	defer p.close()

	lm := p.Allocate(page, max)
	m, ok := lm.(*mappedMemory)
	if !ok {
		t.Fatalf("Allocate = %T, want a mapping", lm)
	}
	buf := m.Reallocate(max)
	if len(buf) != max || m.Reallocate(max+page) != nil {
		t.Fatalf("Reallocate: len %d, or past the maximum accepted", len(buf))
	}
	for i := range buf {
		buf[i] = 0xff
	}
	base := unsafe.SliceData(buf)
	m.Free()
	if m.Reallocate(page) != nil {
		t.Error("Reallocate after Free accepted")
	}
	if len(p.idle) != 1 || p.idle[0].accessible != keepResidentBytes {
		t.Fatalf("idle after Free: %d regions, want 1 with %d bytes accessible", len(p.idle), keepResidentBytes)
	}

	m = p.Allocate(page, max).(*mappedMemory)
	buf = m.Reallocate(max)
	if unsafe.SliceData(buf) != base {
		t.Error("the freed region was not reused")
	}
	for i, b := range buf {
		if b != 0 {
			t.Fatalf("reused memory: byte %d is %#x, want 0", i, b)
		}
	}
	// A guest given one page of the reused region dirties that page
	// only; the next guest still finds every byte zero.
	m.Free()
	m = p.Allocate(page, max).(*mappedMemory)
	buf = m.Reallocate(page)
	for i := range buf {
		buf[i] = 0xff
	}
	if m.r.dirty != page {
		t.Fatalf("dirty %d after a guest given one page, want %d", m.r.dirty, page)
	}
	m.Free()
	m = p.Allocate(page, max).(*mappedMemory)
	buf = m.Reallocate(max)
	for i, b := range buf {
		if b != 0 {
			t.Fatalf("reused after a one-page guest: byte %d is %#x, want 0", i, b)
		}
	}
	other := p.Allocate(page, 2*max).(*mappedMemory)
	if other.r == m.r {
		t.Error("a region was given out twice")
	}
	other.Free()
	m.Free()

	var ms []*mappedMemory
	for range maxIdleMemories + 4 {
		ms = append(ms, p.Allocate(page, max).(*mappedMemory))
	}
	for _, m := range ms {
		m.Free()
	}
	if len(p.idle) != maxIdleMemories {
		t.Errorf("idle: %d regions, want at most %d", len(p.idle), maxIdleMemories)
	}

	m = p.Allocate(page, max).(*mappedMemory)
	p.close()
	m.Free()
	if len(p.idle) != 0 {
		t.Errorf("idle after close: %d regions, want 0", len(p.idle))
	}

	if lm, ok := p.Allocate(0, 0).(*heapMemory); !ok || lm.Reallocate(1) != nil {
		t.Errorf("Allocate with a maximum of 0 = %T, want a heap memory that does not grow", lm)
	}
}
