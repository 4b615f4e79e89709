//go:build !linux

package executor

import "github.com/tetratelabs/wazero/experimental"

// memoryPool is the allocator of guests' linear memories: in the Go heap
// here (see the comment at maxIdleMemories).
type memoryPool struct{}

func newMemoryPool() *memoryPool { return &memoryPool{} }

// Allocate implements experimental.MemoryAllocator.
func (*memoryPool) Allocate(capacity, max uint64) experimental.LinearMemory {
	return newHeapMemory(capacity, max)
}

func (*memoryPool) close() {}
