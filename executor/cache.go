package executor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// runtimeEntry is the wazero Runtime of one memory-limit class and the
// modules compiled for it. Its fields are guarded by WASM.mu, except rt, which
// is set once.
type runtimeEntry struct {
	pages   uint32
	rt      wazero.Runtime
	users   int  // runs holding it
	evicted bool // out of WASM.runtimes; closed once users drops to 0
	lastUse uint64
	modules map[string]*moduleEntry
}

// moduleEntry is one compiled module in a runtimeEntry. Its fields are
// guarded by WASM.mu; cm and err are written once, before ready is closed, and
// may be read without the lock after ready is closed.
type moduleEntry struct {
	ready   chan struct{}
	cm      wazero.CompiledModule
	err     error
	users   int  // runs holding it
	evicted bool // out of runtimeEntry.modules; closed once users drops to 0
	lastUse uint64
}

// lease is what a run holds while it runs: released by WASM.release.
type lease struct {
	re       *runtimeEntry
	me       *moduleEntry
	compiled bool // this run compiled the module
}

// memoryRefusedError reports a module whose declared memory is over the
// task's limit: a Result with MemoryExceeded, not an error of Run.
type memoryRefusedError struct{ err error }

func (e *memoryRefusedError) Error() string { return e.err.Error() }
func (e *memoryRefusedError) Unwrap() error { return e.err }

// acquire returns a lease on the runtime for pages and on module compiled
// in it under key. The first run to need a module starts its compilation in
// the background, so that a run whose ctx ends while it waits returns at once
// and the compilation still serves later runs. Callers must call release on
// success.
func (w *WASM) acquire(ctx context.Context, pages uint32, key string, module []byte) (*lease, error) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil, ErrClosed
	}
	re, err := w.runtimeLocked(pages)
	if err != nil {
		w.mu.Unlock()
		return nil, err
	}
	me := re.modules[key]
	l := &lease{re: re, me: me}
	if me == nil {
		me = &moduleEntry{ready: make(chan struct{})}
		re.modules[key] = me
		l.me, l.compiled = me, true
		bg := w.leaseLocked(re, me)
		// The caller owns module and may reuse it once Run returns.
		go w.compile(context.WithoutCancel(ctx), bg, key, bytes.Clone(module))
	}
	w.leaseLocked(re, me)
	w.mu.Unlock()

	select {
	case <-me.ready:
	case <-ctx.Done():
		w.release(l)
		return nil, fmt.Errorf("waiting for the module to compile: %w", context.Cause(ctx))
	case <-w.base.Done():
		w.release(l)
		return nil, ErrClosed
	}
	if me.err != nil {
		w.release(l)
		return nil, me.err
	}
	return l, nil
}

// leaseLocked counts a new holder of re and me.
func (w *WASM) leaseLocked(re *runtimeEntry, me *moduleEntry) *lease {
	w.tick++
	re.users++
	me.users++
	re.lastUse, me.lastUse = w.tick, w.tick
	w.wg.Add(1)
	return &lease{re: re, me: me}
}

// compile fills l.me with module compiled in l.re and releases l. It gives
// its lease back before it wakes the runs waiting for the module, so that
// once they end the runtime is idle (and can be evicted).
func (w *WASM) compile(ctx context.Context, l *lease, key string, module []byte) {
	cm, err := compileCommand(ctx, l.re.rt, module)
	w.mu.Lock()
	l.me.cm, l.me.err = cm, err
	if err != nil && l.re.modules[key] == l.me { // don't cache failures
		delete(l.re.modules, key)
		l.me.evicted = true
	}
	closers := w.evictModulesLocked(l.re)
	closers = append(closers, w.releaseLocked(l)...)
	close(l.me.ready)
	w.mu.Unlock()
	closeAll(closers)
	w.wg.Done()
}

// release gives back what acquire leased, closing what was evicted meanwhile.
func (w *WASM) release(l *lease) {
	w.mu.Lock()
	closers := w.releaseLocked(l)
	w.mu.Unlock()
	closeAll(closers)
	w.wg.Done()
}

// releaseLocked counts l's holder out and returns the closers of what was
// evicted and is no longer held. w.mu must be held; the caller calls
// w.wg.Done once the closers have run.
func (w *WASM) releaseLocked(l *lease) []func() error {
	var closers []func() error
	l.me.users--
	if l.me.evicted && l.me.users == 0 && l.me.cm != nil {
		cm := l.me.cm
		closers = append(closers, func() error { return cm.Close(context.Background()) })
	}
	l.re.users--
	if l.re.evicted && l.re.users == 0 {
		rt := l.re.rt
		closers = append(closers, func() error { return rt.Close(context.Background()) })
	}
	return closers
}

// runtimeLocked returns the runtime for pages, creating it (and evicting the
// least recently used idle runtime beyond the bound) if needed.
func (w *WASM) runtimeLocked(pages uint32) (*runtimeEntry, error) {
	if re := w.runtimes[pages]; re != nil {
		return re, nil
	}
	ctx := context.Background() // the runtime outlives the run that creates it
	cfg := wazero.NewRuntimeConfig().
		WithCloseOnContextDone(true).
		WithMemoryLimitPages(pages).
		WithCompilationCache(w.cache)
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		_ = rt.Close(ctx)
		return nil, fmt.Errorf("instantiate WASI for memory limit %d pages: %w", pages, err)
	}
	re := &runtimeEntry{pages: pages, rt: rt, modules: make(map[string]*moduleEntry)}
	w.runtimes[pages] = re
	for len(w.runtimes) > w.cfg.maxRuntimes {
		var lru *runtimeEntry
		for _, c := range w.runtimes {
			if c != re && c.users == 0 && (lru == nil || c.lastUse < lru.lastUse) {
				lru = c
			}
		}
		if lru == nil {
			break // all busy: over the bound until runs end
		}
		delete(w.runtimes, lru.pages)
		lru.evicted = true
		// Idle, so closing is quick enough to do under the lock.
		_ = lru.rt.Close(ctx)
	}
	return re, nil
}

// evictModulesLocked drops the least recently used modules of re beyond the
// bound and returns the closers of those no run holds.
func (w *WASM) evictModulesLocked(re *runtimeEntry) []func() error {
	var closers []func() error
	for len(re.modules) > w.cfg.maxModules {
		var lruKey string
		var lru *moduleEntry
		for k, m := range re.modules {
			if lru == nil || m.lastUse < lru.lastUse {
				lruKey, lru = k, m
			}
		}
		delete(re.modules, lruKey)
		lru.evicted = true
		if lru.users == 0 && lru.cm != nil {
			cm := lru.cm
			closers = append(closers, func() error { return cm.Close(context.Background()) })
		}
	}
	return closers
}

// compileCommand compiles module in rt and checks that it is a WASI preview 1
// command that imports nothing else.
func compileCommand(ctx context.Context, rt wazero.Runtime, module []byte) (wazero.CompiledModule, error) {
	cm, err := rt.CompileModule(ctx, module)
	if err != nil {
		// wazero refuses a declared memory over the runtime's limit with
		// "... over limit of N pages ..." when decoding.
		if msg := err.Error(); strings.Contains(msg, "over limit of") && strings.Contains(msg, "pages") {
			return nil, &memoryRefusedError{err: err}
		}
		return nil, fmt.Errorf("%w: %w", ErrInvalidModule, err)
	}
	if err := checkCommand(cm); err != nil {
		_ = cm.Close(ctx)
		return nil, fmt.Errorf("%w: %w", ErrInvalidModule, err)
	}
	return cm, nil
}

// checkCommand refuses a module that is not a WASI command or that imports
// what the executor does not provide.
func checkCommand(cm wazero.CompiledModule) error {
	for _, f := range cm.ImportedFunctions() {
		if mod, name, _ := f.Import(); mod != wasi_snapshot_preview1.ModuleName {
			return fmt.Errorf("imports function %s.%s: only %s is provided",
				mod, name, wasi_snapshot_preview1.ModuleName)
		}
	}
	for _, m := range cm.ImportedMemories() {
		mod, name, _ := m.Import()
		return fmt.Errorf("imports memory %s.%s: a module must define its own memory", mod, name)
	}
	exports := cm.ExportedFunctions()
	start, ok := exports[startFunction]
	if !ok {
		if _, reactor := exports["_initialize"]; reactor {
			return errors.New("not a WASI command: it is a reactor (exports _initialize, not _start)")
		}
		return errors.New("not a WASI command: no exported _start function")
	}
	if len(start.ParamTypes()) != 0 || len(start.ResultTypes()) != 0 {
		return fmt.Errorf("not a WASI command: _start takes %d parameters and returns %d results, want none",
			len(start.ParamTypes()), len(start.ResultTypes()))
	}
	return nil
}

// closeAll runs closers, ignoring their errors: what they close is already
// out of use.
func closeAll(closers []func() error) {
	for _, c := range closers {
		_ = c()
	}
}
