package executor

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/experimental/sysfs"
	"github.com/tetratelabs/wazero/sys"
)

// startFunction is the entry point of a WASI command.
const startFunction = "_start"

// maxReasonLen bounds Result.Reason (a trap's message carries a stack trace).
const maxReasonLen = 2048

// What guests print to stderr when an allocation fails.
const (
	oomMarkerGo   = "out of memory"        // "fatal error: out of memory"
	oomMarkerRust = "memory allocation of" // "memory allocation of N bytes failed"
)

// WASM is the WebAssembly Executor: it runs WASI preview 1 command modules
// under wazero. It is safe for concurrent use. Create it with NewWASM and
// Close it when done.
type WASM struct {
	cfg    wasmConfig
	cache  wazero.CompilationCache
	memory *memoryPool // guests' linear memories

	// base is cancelled by Close, which stops the runs in flight.
	base   context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // runs holding a lease

	mu       sync.Mutex
	closed   bool
	tick     uint64 // logical clock for LRU eviction
	runtimes map[uint32]*runtimeEntry
}

var _ Executor = (*WASM)(nil)

type wasmConfig struct {
	cacheDir       string
	maxModules     int
	maxRuntimes    int
	defaultTimeout time.Duration
	defaultMemory  uint64
	defaultOutput  int
}

// WASMOption configures NewWASM.
type WASMOption func(*wasmConfig) error

// WithCacheDir keeps compiled code in dir, so that it survives restarts.
// The default is an in-memory cache. The directory must be private to the
// executor: wazero trusts what it finds there.
func WithCacheDir(dir string) WASMOption {
	return func(c *wasmConfig) error {
		if dir == "" {
			return errors.New("cache dir: empty")
		}
		c.cacheDir = dir
		return nil
	}
}

// WithMaxCachedModules bounds how many compiled modules each memory-limit
// class keeps (default 16); the least recently used are closed beyond it.
func WithMaxCachedModules(n int) WASMOption {
	return func(c *wasmConfig) error {
		if n < 1 {
			return fmt.Errorf("max cached modules: %d, must be at least 1", n)
		}
		c.maxModules = n
		return nil
	}
}

// WithMaxRuntimes bounds how many memory-limit classes (one wazero Runtime
// each) are kept at once (default 8); idle ones are closed beyond it.
func WithMaxRuntimes(n int) WASMOption {
	return func(c *wasmConfig) error {
		if n < 1 {
			return fmt.Errorf("max runtimes: %d, must be at least 1", n)
		}
		c.maxRuntimes = n
		return nil
	}
}

// WithDefaults sets what a Task's zero Timeout, MemoryBytes and MaxOutput
// mean (DefaultTimeout, DefaultMemoryBytes and DefaultMaxOutput unless set).
func WithDefaults(timeout time.Duration, memoryBytes uint64, maxOutput int) WASMOption {
	return func(c *wasmConfig) error {
		switch {
		case timeout <= 0:
			return fmt.Errorf("default timeout: %v, must be positive", timeout)
		case memoryBytes == 0 || memoryBytes > MaxMemoryBytes:
			return fmt.Errorf("default memory: %d bytes, must be 1 to %d", memoryBytes, uint64(MaxMemoryBytes))
		case maxOutput <= 0:
			return fmt.Errorf("default max output: %d bytes, must be positive", maxOutput)
		}
		c.defaultTimeout, c.defaultMemory, c.defaultOutput = timeout, memoryBytes, maxOutput
		return nil
	}
}

// NewWASM returns a WASM executor.
func NewWASM(opts ...WASMOption) (*WASM, error) {
	cfg := wasmConfig{
		maxModules:     16,
		maxRuntimes:    8,
		defaultTimeout: DefaultTimeout,
		defaultMemory:  DefaultMemoryBytes,
		defaultOutput:  DefaultMaxOutput,
	}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, fmt.Errorf("wasm executor: %w", err)
		}
	}
	var cache wazero.CompilationCache
	if cfg.cacheDir != "" {
		c, err := wazero.NewCompilationCacheWithDir(cfg.cacheDir)
		if err != nil {
			return nil, fmt.Errorf("wasm executor: cache dir %s: %w", cfg.cacheDir, err)
		}
		cache = c
	} else {
		cache = wazero.NewCompilationCache()
	}
	base, cancel := context.WithCancel(context.Background())
	return &WASM{
		cfg:      cfg,
		cache:    cache,
		memory:   newMemoryPool(),
		base:     base,
		cancel:   cancel,
		runtimes: make(map[uint32]*runtimeEntry),
	}, nil
}

// Name returns "wasm".
func (w *WASM) Name() string { return "wasm" }

// Available returns nil until Close has been called: the WASM executor is
// built in and needs nothing of the host.
func (w *WASM) Available(context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	return nil
}

// Validate checks t without compiling or running it: the WebAssembly header
// of its module (see ValidateWASM; the error matches ErrNotWASM and
// ErrInvalidModule and reads "not a WebAssembly module: …"), then its
// fields (ErrInvalidTask, naming the field). A module that passes may still
// fail to compile when run.
func (w *WASM) Validate(_ context.Context, t Task) error {
	if err := ValidateWASM(t.Module); err != nil {
		return moduleError{err}
	}
	return checkTask(&t)
}

// moduleError is an error of ValidateWASM that also matches ErrInvalidModule,
// with ValidateWASM's message.
type moduleError struct{ err error }

func (e moduleError) Error() string   { return e.err.Error() }
func (e moduleError) Unwrap() []error { return []error{ErrInvalidModule, e.err} }

// Close stops the runs in flight (they return ErrClosed), waits for them and
// releases every runtime, compiled module and the compilation cache. It is
// safe to call more than once.
func (w *WASM) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	w.cancel()
	w.mu.Unlock()

	w.wg.Wait()
	ctx := context.Background()
	var errs []error
	w.mu.Lock()
	for pages, re := range w.runtimes {
		if err := re.rt.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("close runtime for %d pages: %w", pages, err))
		}
	}
	clear(w.runtimes)
	w.mu.Unlock()
	w.memory.close()
	if err := w.cache.Close(ctx); err != nil {
		errs = append(errs, fmt.Errorf("close compilation cache: %w", err))
	}
	return errors.Join(errs...)
}

// Run runs t's module as a WASI command: see Executor.Run.
func (w *WASM) Run(ctx context.Context, t Task) (Result, error) {
	if err := checkTask(&t); err != nil {
		return Result{}, err
	}
	if err := ValidateWASM(t.Module); err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrInvalidModule, err)
	}
	w.applyDefaults(&t)
	pages := uint32(t.MemoryBytes / PageSize)

	l, err := w.acquire(ctx, pages, t.ModuleKey, t.Module)
	var refused *memoryRefusedError
	if errors.As(err, &refused) {
		return Result{
			ExitCode:       ExitCodeAbnormal,
			MemoryExceeded: true,
			Reason:         fmt.Sprintf("memory limit %d bytes: module refused: %v", t.MemoryBytes, refused.err),
			Compiled:       true,
		}, nil
	}
	if err != nil {
		return Result{}, fmt.Errorf("run %s: %w", t.Name, err)
	}
	defer w.release(l)

	res, err := w.execute(ctx, l.re.rt, l.me.cm, &t)
	res.Compiled = l.compiled
	return res, err
}

// applyDefaults fills t's zero fields and rounds its memory up to whole pages.
func (w *WASM) applyDefaults(t *Task) {
	if t.Name == "" {
		t.Name = DefaultName
	}
	if t.ModuleKey == "" {
		sum := sha256.Sum256(t.Module)
		t.ModuleKey = hex.EncodeToString(sum[:])
	}
	if t.Timeout == 0 {
		t.Timeout = w.cfg.defaultTimeout
	}
	if t.MemoryBytes == 0 {
		t.MemoryBytes = w.cfg.defaultMemory
	}
	t.MemoryBytes = (t.MemoryBytes + PageSize - 1) / PageSize * PageSize // whole pages
	if t.MaxOutput == 0 {
		t.MaxOutput = w.cfg.defaultOutput
	}
}

// execute instantiates cm in rt and calls its _start under t's limits.
func (w *WASM) execute(ctx context.Context, rt wazero.Runtime, cm wazero.CompiledModule, t *Task) (Result, error) {
	runCtx, cancel := context.WithTimeout(ctx, t.Timeout)
	defer cancel()
	stop := context.AfterFunc(w.base, cancel) // Close stops the run
	defer stop()

	stdout := newCappedWriter(t.MaxOutput)
	stderr := newCappedWriter(t.MaxOutput, oomMarkerGo, oomMarkerRust)
	cfg := wazero.NewModuleConfig().
		WithName("").         // anonymous: parallel instances must not collide
		WithStartFunctions(). // _start is called below, to tell its errors apart
		WithArgs(append([]string{t.Name}, t.Args...)...).
		WithStdin(bytes.NewReader(t.Stdin)).
		WithStdout(tee(stdout, t.Logs)).
		WithStderr(tee(stderr, t.Logs))
	for _, k := range slices.Sorted(maps.Keys(t.Env)) {
		cfg = cfg.WithEnv(k, t.Env[k])
	}
	var quota *diskQuota
	if t.InputsDir != "" || t.OutputsDir != "" {
		fsc, q, closeFS, err := wasmMounts(t)
		if err != nil {
			return Result{}, err
		}
		defer closeFS()
		quota = q
		cfg = cfg.WithFSConfig(fsc)
	}
	if !t.Deterministic {
		cfg = cfg.WithSysWalltime().
			WithSysNanotime().
			WithNanosleep(sleepUntilDone(runCtx)).
			WithOsyield(goruntime.Gosched).
			WithRandSource(rand.Reader)
	}

	start := time.Now()
	// The guest's memory grows in place, up to its limit (see memoryPool).
	mod, err := rt.InstantiateModule(experimental.WithMemoryAllocator(runCtx, w.memory), cm, cfg)
	if err == nil {
		_, err = mod.ExportedFunction(startFunction).Call(runCtx)
	}
	duration := time.Since(start)
	res := Result{
		Duration:        duration,
		CPUSeconds:      duration.Seconds(), // one thread, busy from start to end (see Result.CPUSeconds)
		Stdout:          stdout.Bytes(),
		Stderr:          stderr.Bytes(),
		StdoutTruncated: stdout.Truncated(),
		StderrTruncated: stderr.Truncated(),
	}
	var memBytes uint64
	if mod != nil {
		if mem := mod.ExportedMemory("memory"); mem != nil {
			memBytes = uint64(mem.Size())
		}
		_ = mod.Close(context.Background())
	}
	res.PeakMemoryBytes = memBytes
	if quota != nil {
		res.DiskExceeded = quota.Exceeded()
	}

	return w.exitResult(ctx, runCtx, err, res, t, stderr)
}

// wasmMounts mounts the task's inputs (read-only) and outputs (under its
// disk quota) directories; closeFS closes them.
func wasmMounts(t *Task) (fsc wazero.FSConfig, quota *diskQuota, closeFS func(), err error) {
	var opened []*rootFS
	closeFS = func() {
		for i := len(opened) - 1; i >= 0; i-- {
			opened[i].Close()
		}
	}
	sfs := wazero.NewFSConfig().(sysfs.FSConfig)
	if t.InputsDir != "" {
		in, err := newRootFS(t.InputsDir, true, nil)
		if err != nil {
			closeFS()
			return nil, nil, nil, fmt.Errorf("run %s: inputs dir: %w", t.Name, err)
		}
		opened = append(opened, in)
		sfs = sfs.WithSysFSMount(in, InputsPath).(sysfs.FSConfig)
	}
	if t.OutputsDir != "" {
		quota = newDiskQuota(t.DiskBytes, t.MaxFiles)
		out, err := newRootFS(t.OutputsDir, false, quota)
		if err != nil {
			closeFS()
			return nil, nil, nil, fmt.Errorf("run %s: outputs dir: %w", t.Name, err)
		}
		opened = append(opened, out)
		sfs = sfs.WithSysFSMount(out, OutputsPath).(sysfs.FSConfig)
	}
	return sfs.(wazero.FSConfig), quota, closeFS, nil
}

// exitResult completes res with how the run ended (err): exit code, time
// out, cancellation, or running out of memory.
func (w *WASM) exitResult(ctx, runCtx context.Context, err error, res Result, t *Task, stderr *cappedWriter) (Result, error) {
	memBytes := res.PeakMemoryBytes
	var exit *sys.ExitError
	switch {
	case err == nil:
		res.ExitCode = 0
	case errors.As(err, &exit) && runCtx.Err() != nil &&
		(exit.ExitCode() == sys.ExitCodeDeadlineExceeded || exit.ExitCode() == sys.ExitCodeContextCanceled):
		res.ExitCode = ExitCodeAbnormal
		if w.base.Err() != nil {
			res.Reason = "executor closed"
			return res, fmt.Errorf("run %s: %w", t.Name, ErrClosed)
		}
		if ctx.Err() != nil {
			res.Reason = "cancelled"
			return res, fmt.Errorf("run %s: %w", t.Name, context.Cause(ctx))
		}
		res.TimedOut = true
		res.Reason = fmt.Sprintf("timed out after %v", t.Timeout)
	case errors.As(err, &exit):
		res.ExitCode = int(exit.ExitCode())
	default:
		res.ExitCode = ExitCodeAbnormal
		res.Reason = truncateReason(err.Error())
	}
	if res.ExitCode != 0 && !res.TimedOut {
		slack := t.MemoryBytes / 16
		if stderr.Seen() || memBytes+slack >= t.MemoryBytes {
			res.MemoryExceeded = true
			if res.Reason == "" {
				res.Reason = fmt.Sprintf("out of memory (limit %d bytes, guest memory %d bytes)", t.MemoryBytes, memBytes)
			}
		}
	}
	return res, nil
}

// sleepUntilDone returns a nanosleep for the guest that wakes early when ctx
// is done, so that a sleeping guest is stopped at its timeout.
func sleepUntilDone(ctx context.Context) sys.Nanosleep {
	return func(ns int64) {
		if ns <= 0 {
			return
		}
		timer := time.NewTimer(time.Duration(ns))
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-ctx.Done():
		}
	}
}

// truncateReason keeps the start of a long error message.
func truncateReason(s string) string {
	s = strings.TrimSpace(s)
	if len(s) <= maxReasonLen {
		return s
	}
	return s[:maxReasonLen] + "…"
}
