package executor

import (
	"github.com/tetratelabs/wazero/experimental"
)

// Guests' linear memories.
//
// wazero's own memory is a Go slice sized to the module's minimum and
// reallocated (copied, and the new part zeroed) as the guest grows it: on a
// 2-core VM a guest growing page by page to 64 MiB spent a quarter of a
// second doing so, over two seconds on its first run in a process (fresh
// pages are slow to fault in there). Reserving the capacity in the Go heap
// instead (RuntimeConfig.WithMemoryCapacityFromMax) makes every run, however
// small, allocate its whole limit (256 MiB by default), which the Go runtime
// zeroes, touching every page, whenever it reuses freed heap: a tiny job
// took five to ten times as long.
//
// So the executor gives wazero its own allocator (memoryPool, passed with
// experimental.WithMemoryAllocator when a module is instantiated). On Linux
// a guest's memory is a mapping of its own: the address space of its maximum
// (the task's limit, or the module's declared maximum if lower) is reserved
// inaccessible, and each memory.grow makes the new pages readable and
// writable in place: nothing is copied, the kernel supplies zero pages on
// first touch, and only pages the guest touches become resident. When the
// module is closed its mapping is kept for the next run (up to
// maxIdleMemories of them), its first keepResidentBytes zeroed and the rest
// given back to the system, so that a stream of small jobs reuses resident
// pages as it did the Go heap's. Elsewhere, or when no mapping can be had,
// memories are in the Go heap (heapMemory). The limit itself is still
// wazero's: memory.grow past the maximum fails before the allocator is
// asked.
const (
	// maxIdleMemories bounds the mappings kept for reuse by an executor.
	maxIdleMemories = 16
	// keepResidentBytes is how much of a mapping kept for reuse stays
	// resident (zeroed); the rest is given back to the system.
	keepResidentBytes = 4 << 20
)

var _ experimental.MemoryAllocator = (*memoryPool)(nil)

// heapMemory is a linear memory in the Go heap, for where a mapping cannot
// be reserved: it grows its capacity at least twofold, so that growing page
// by page copies the memory a few times rather than once per page.
type heapMemory struct {
	buf []byte // len is the memory's size; cap is allocated, zero past len
	max uint64
}

func newHeapMemory(capacity, max uint64) *heapMemory {
	return &heapMemory{buf: make([]byte, 0, min(capacity, max)), max: max}
}

// Reallocate implements experimental.LinearMemory.
func (m *heapMemory) Reallocate(size uint64) []byte {
	switch {
	case size > m.max:
		return nil
	case size <= uint64(cap(m.buf)):
		// Linear memory never shrinks, so what lies past len has never been
		// written: still zero.
		m.buf = m.buf[:size]
	default:
		newCap := min(max(size, 2*uint64(cap(m.buf))), m.max)
		buf := make([]byte, size, newCap)
		copy(buf, m.buf)
		m.buf = buf
	}
	return m.buf
}

// Free implements experimental.LinearMemory.
func (m *heapMemory) Free() { m.buf = nil }
