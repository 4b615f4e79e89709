package executor

import (
	"os"
	"runtime"
	"sync"
	"syscall"

	"github.com/tetratelabs/wazero/experimental"
)

// memoryPool is the allocator of guests' linear memories (see the comment
// at maxIdleMemories): a mapping each, reserved at the memory's maximum and
// kept for reuse once freed. It is safe for concurrent use.
type memoryPool struct {
	mu     sync.Mutex
	idle   []*region // most recently freed last
	closed bool
}

func newMemoryPool() *memoryPool { return &memoryPool{} }

// region is the mapping of one linear memory.
type region struct {
	mem        []byte // the whole reservation, a whole number of pages
	accessible uint64 // bytes from its start that are readable and writable
	// dirty is the most of it a guest was given since the last reset (the
	// largest Reallocate): only those bytes can have been written, the
	// rest of what is accessible is still zero.
	dirty uint64
}

// Allocate implements experimental.MemoryAllocator: capacity bytes are made
// accessible at once (wazero asks for the module's minimum), up to max as
// the guest grows. Where no mapping can be had (max of zero, address space
// short or limited), the memory is in the Go heap.
func (p *memoryPool) Allocate(capacity, max uint64) experimental.LinearMemory {
	page := uint64(os.Getpagesize())
	length := (max + page - 1) / page * page
	if length == 0 || length != uint64(int(length)) {
		return newHeapMemory(capacity, max)
	}
	r := p.take(length)
	if r == nil {
		mem, err := syscall.Mmap(-1, 0, int(length), syscall.PROT_NONE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
		if err != nil {
			return newHeapMemory(capacity, max)
		}
		r = &region{mem: mem}
	}
	if !r.grow(min(capacity, max)) {
		p.put(r)
		return newHeapMemory(capacity, max)
	}
	m := &mappedMemory{pool: p, r: r, max: max}
	// A module whose instantiation fails once its memory is built (a data
	// segment out of bounds, a start function that traps) is dropped by
	// wazero without Free: unmap its memory when it is collected.
	m.cleanup = runtime.AddCleanup(m, (*region).unmap, r)
	return m
}

// take returns an idle region of length bytes, or nil.
func (p *memoryPool) take(length uint64) *region {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.idle) - 1; i >= 0; i-- {
		if r := p.idle[i]; uint64(len(r.mem)) == length {
			p.idle = append(p.idle[:i], p.idle[i+1:]...)
			return r
		}
	}
	return nil
}

// put keeps r for reuse, zeroed, or unmaps it (when the pool is closed or
// r cannot be reset); beyond maxIdleMemories the least recently freed region
// is unmapped.
func (p *memoryPool) put(r *region) {
	if !r.reset() {
		r.unmap()
		return
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		r.unmap()
		return
	}
	var evicted *region
	if len(p.idle) >= maxIdleMemories {
		evicted = p.idle[0]
		p.idle = append(p.idle[:0], p.idle[1:]...)
	}
	p.idle = append(p.idle, r)
	p.mu.Unlock()
	if evicted != nil {
		evicted.unmap()
	}
}

// close unmaps the idle regions; memories freed later are unmapped.
func (p *memoryPool) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	for _, r := range idle {
		r.unmap()
	}
}

// grow makes the first size bytes of r accessible, reporting whether it
// could (mprotect fails with ENOMEM under strict overcommit).
func (r *region) grow(size uint64) bool {
	if size > uint64(len(r.mem)) {
		return false
	}
	if size <= r.accessible {
		return true
	}
	page := uint64(os.Getpagesize())
	end := min((size+page-1)/page*page, uint64(len(r.mem)))
	if syscall.Mprotect(r.mem[r.accessible:end], syscall.PROT_READ|syscall.PROT_WRITE) != nil {
		return false
	}
	r.accessible = end
	return true
}

// reset makes r as if newly reserved, except that its first
// keepResidentBytes stay accessible, zeroed and resident: the rest of its
// pages are given back to the system (zero-filled when next touched) and
// made inaccessible again. Only what a guest was given is cleared: one
// that used a page of a region kept with 4 MiB accessible costs a page's
// clearing, not 4 MiB's. It reports whether it could.
func (r *region) reset() bool {
	keep := min(r.accessible, keepResidentBytes)
	clear(r.mem[:min(r.dirty, keep)]) // [dirty, keep) is zero already
	r.dirty = 0
	if r.accessible > keep {
		rest := r.mem[keep:r.accessible]
		if syscall.Madvise(rest, syscall.MADV_DONTNEED) != nil ||
			syscall.Mprotect(rest, syscall.PROT_NONE) != nil {
			return false
		}
		r.accessible = keep
	}
	return true
}

func (r *region) unmap() { _ = syscall.Munmap(r.mem) }

// mappedMemory is one linear memory in a region of a memoryPool.
type mappedMemory struct {
	pool    *memoryPool
	max     uint64
	cleanup runtime.Cleanup

	mu sync.Mutex // wazero does not call Reallocate and Free at once; cheap insurance
	r  *region    // nil once freed
}

// Reallocate implements experimental.LinearMemory: it makes the memory
// size bytes long, in place, or returns nil if it cannot (wazero then fails
// the memory.grow, which the guest sees as out of memory).
func (m *mappedMemory) Reallocate(size uint64) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.r == nil || size > m.max || !m.r.grow(size) {
		return nil
	}
	m.r.dirty = max(m.r.dirty, size)
	return m.r.mem[:size:size]
}

// Free implements experimental.LinearMemory: the region goes back to the
// pool. wazero calls it when the module is closed, never while its guest
// runs (a module closed for its context is freed by the guest's own
// goroutine once it stops).
func (m *mappedMemory) Free() {
	m.mu.Lock()
	r := m.r
	m.r = nil
	m.mu.Unlock()
	if r != nil {
		m.cleanup.Stop()
		m.pool.put(r)
	}
}
