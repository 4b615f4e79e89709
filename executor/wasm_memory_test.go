package executor_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/computemesh/computemesh/executor"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// growModule assembles a WASI command whose memory starts at one page with
// no declared maximum (so the executor's limit is its maximum) and whose
// _start grows it one page at a time until it has target pages, checking
// that each new page reads zero and writing to it. With over, it then asks
// for one page more and traps (unreachable) if that is refused; any refused
// grow before target, or a new page that is not zero, traps too.
func growModule(target uint32, over bool) []byte {
	const (
		i32        = 0x7f
		block      = 0x02
		loop       = 0x03
		ifOp       = 0x04
		end        = 0x0b
		br         = 0x0c
		brIf       = 0x0d
		unreachabl = 0x00
		localGet   = 0x20
		localTee   = 0x22
		i32Load    = 0x28
		i32Store   = 0x36
		memSize    = 0x3f
		memGrow    = 0x40
		i32Const   = 0x41
		i32Eq      = 0x46
		i32GeU     = 0x4f
		i32Shl     = 0x74
		void       = 0x40
	)
	trapIfRefused := []byte{i32Const, 0x7f, i32Eq, ifOp, void, unreachabl, end} // (i32.eq (…) -1) → unreachable
	code := []byte{0x01, 0x01, i32}                                             // one local i32: the old size
	code = append(code, block, void, loop, void,
		memSize, 0x00, i32Const)
	code = appendSLEB128(code, int64(target))
	code = append(code, i32GeU, brIf, 0x01, // done at target pages
		i32Const, 0x01, memGrow, 0x00, localTee, 0x00)
	code = append(code, trapIfRefused...)
	code = append(code, localGet, 0x00, i32Const, 0x10, i32Shl, // address of the new page
		i32Load, 0x02, 0x00, ifOp, void, unreachabl, end, // not zero: trap
		localGet, 0x00, i32Const, 0x10, i32Shl,
		i32Const, 0x01, i32Store, 0x02, 0x00, // store 1 there
		br, 0x00, end, end)
	if over {
		code = append(code, i32Const, 0x01, memGrow, 0x00)
		code = append(code, trapIfRefused...)
	}
	code = append(code, end)
	body := appendULEB128(nil, uint64(len(code)))
	body = append(body, code...)

	exports := []byte{0x02, 0x06}
	exports = append(exports, "_start"...)
	exports = append(exports, 0x00, 0x00, 0x06) // func 0
	exports = append(exports, "memory"...)
	exports = append(exports, 0x02, 0x00) // memory 0
	return wasmBinary(
		typeSection,
		funcSection,
		section(5, 0x01, 0x00, 0x01), // memory: min 1 page, no max
		section(7, exports...),
		section(10, append([]byte{0x01}, body...)...),
	)
}

func appendULEB128(b []byte, v uint64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func appendSLEB128(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// TestMemoryGrowToLimit grows a guest's memory page by page: up to the
// limit it succeeds, one page more is refused (MemoryExceeded), for a few
// limits and with runs of different limits side by side.
func TestMemoryGrowToLimit(t *testing.T) {
	w := newWASM(t)
	const page = executor.PageSize
	for _, pages := range []uint32{1, 2, 17, 1024} {
		t.Run(fmt.Sprintf("%d pages", pages), func(t *testing.T) {
			t.Parallel()
			limit := uint64(pages) * page
			r, err := w.Run(t.Context(), executor.Task{Name: "grow.wasm", Module: growModule(pages, false), MemoryBytes: limit})
			if err != nil {
				t.Fatalf("Run to the limit: %v", err)
			}
			if r.ExitCode != 0 || r.MemoryExceeded || r.PeakMemoryBytes != limit {
				t.Errorf("to the limit: exit %d, MemoryExceeded %v, PeakMemoryBytes %d, Reason %q; want 0, false, %d",
					r.ExitCode, r.MemoryExceeded, r.PeakMemoryBytes, r.Reason, limit)
			}
			r, err = w.Run(t.Context(), executor.Task{Name: "grow.wasm", Module: growModule(pages, true), MemoryBytes: limit})
			if err != nil {
				t.Fatalf("Run past the limit: %v", err)
			}
			if r.ExitCode == 0 || !r.MemoryExceeded || r.PeakMemoryBytes != limit {
				t.Errorf("one page past the limit: exit %d, MemoryExceeded %v, PeakMemoryBytes %d, Reason %q; want non-zero, true, %d",
					r.ExitCode, r.MemoryExceeded, r.PeakMemoryBytes, r.Reason, limit)
			}
		})
	}
}

// TestMemoryReusedIsZero runs guests one after another under the same
// limit, each writing to its memory (more than the executor keeps resident
// between runs) and checking that what it grows into is zero.
func TestMemoryReusedIsZero(t *testing.T) {
	w := newWASM(t)
	const pages = 256 // 16 MiB
	for i := range 4 {
		r, err := w.Run(t.Context(), executor.Task{Name: "grow.wasm", Module: growModule(pages, false), MemoryBytes: pages * executor.PageSize})
		if err != nil || r.ExitCode != 0 {
			t.Fatalf("run %d: %v, exit %d, %q; want 0 (a trap: a new page was not zero)", i, err, r.ExitCode, r.Reason)
		}
	}
}

// TestMemoryInstantiationFails runs modules whose instantiation fails once
// their memory is built (a data segment past its end): wazero drops such a
// memory without freeing it, and the executor must neither crash nor keep it
// (it is unmapped once collected).
func TestMemoryInstantiationFails(t *testing.T) {
	w := newWASM(t)
	outOfBounds := section(11, 0x01, 0x00, 0x41, 0x80, 0x80, 0x04, 0x0b, 0x01, 0x2a) // 1 byte at 64 KiB
	module := wasmBinary(typeSection, funcSection, section(5, 0x01, 0x00, 0x01), exportFunc("_start"), emptyBody, outOfBounds)
	for range 3 {
		r, err := w.Run(t.Context(), executor.Task{Name: "oob.wasm", Module: module, MemoryBytes: 1 << 20})
		if err != nil || r.ExitCode != executor.ExitCodeAbnormal || !strings.Contains(r.Reason, "out of bounds") {
			t.Fatalf("Run = %v, exit %d, %q; want an abnormal exit, out of bounds", err, r.ExitCode, r.Reason)
		}
		runtime.GC()
	}
	if r, err := w.Run(t.Context(), executor.Task{Name: "grow.wasm", Module: growModule(16, false), MemoryBytes: 1 << 20}); err != nil || r.ExitCode != 0 {
		t.Fatalf("Run after: %v, exit %d, %q", err, r.ExitCode, r.Reason)
	}
}

// TestMemoryGrowConcurrent runs many guests at once, each growing its
// memory to the limit and touching every page: each sees its own memory
// (the guest checks nothing; the executor's memory must not be shared or
// reused while in use) and all end well.
func TestMemoryGrowConcurrent(t *testing.T) {
	w := newWASM(t)
	const pages = 64
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 4 {
				r, err := w.Run(t.Context(), executor.Task{Name: "grow.wasm", Module: growModule(pages, true), MemoryBytes: pages * executor.PageSize})
				if err != nil || r.ExitCode == 0 || !r.MemoryExceeded {
					t.Errorf("Run = %v, exit %d, MemoryExceeded %v; want a refused grow", err, r.ExitCode, r.MemoryExceeded)
					return
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkWazeroGrowToLimit runs the page-by-page guest of
// BenchmarkWASMGrowToLimit through wazero alone, with its default memory
// (the buffer reallocated as it grows) and with capacity reserved up to the
// limit (WithMemoryCapacityFromMax): what the executor is compared with.
func BenchmarkWazeroGrowToLimit(b *testing.B) {
	const pages = 1024
	for _, capFromMax := range []bool{false, true} {
		b.Run(fmt.Sprintf("capacity-from-max=%v", capFromMax), func(b *testing.B) {
			ctx := context.Background()
			rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().
				WithMemoryLimitPages(pages).WithMemoryCapacityFromMax(capFromMax))
			defer rt.Close(ctx)
			wasi_snapshot_preview1.MustInstantiate(ctx, rt)
			cm, err := rt.CompileModule(ctx, growModule(pages, false))
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				m, err := rt.InstantiateModule(ctx, cm, wazero.NewModuleConfig().WithName(""))
				if err != nil {
					b.Fatal(err)
				}
				m.Close(ctx)
			}
		})
	}
}
