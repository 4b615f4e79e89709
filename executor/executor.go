package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Executor runs one kind of workload in a sandbox.
type Executor interface {
	// Name returns the executor's kind, e.g. "wasm".
	Name() string
	// Validate is a cheap structural check: it refuses what is not a module
	// of this kind and says why.
	Validate(module []byte) error
	// Run runs t to completion. It returns an error only for infrastructure
	// problems, an invalid task or module, or a done context; a job that
	// exits non-zero, traps, times out or hits a limit is a Result.
	Run(ctx context.Context, t Task) (Result, error)
	// Close releases everything the executor holds. Runs in flight are
	// stopped and return ErrClosed.
	Close() error
}

// Task is one run of a module.
type Task struct {
	// Name is argv[0], e.g. "hello.wasm". Empty means DefaultName.
	Name string
	// Module is the module's binary.
	Module []byte
	// ModuleKey identifies Module in caches (the module's CID string).
	// Empty means the hex SHA-256 of Module. Two tasks with one key must
	// carry the same bytes.
	ModuleKey string
	// Args are argv[1:].
	Args []string
	// Env is the guest's environment, applied in sorted key order.
	Env map[string]string
	// Stdin is the guest's standard input; it reads EOF after it.
	Stdin []byte
	// Timeout bounds the run's wall-clock time; 0 means the executor's
	// default (DefaultTimeout unless configured).
	Timeout time.Duration
	// MemoryBytes bounds the guest's linear memory, rounded up to whole
	// 64 KiB pages; 0 means the executor's default (DefaultMemoryBytes
	// unless configured). At most MaxMemoryBytes.
	MemoryBytes uint64
	// MaxOutput is how many bytes are kept of each of stdout and stderr;
	// 0 means the executor's default (DefaultMaxOutput unless configured).
	MaxOutput int
	// Deterministic gives the guest a fixed clock, sleeps that return at
	// once and a fixed random stream instead of the host's real ones.
	Deterministic bool
	// InputsDir, when set, is a host directory the guest sees read-only at
	// /inputs; OutputsDir one it may write at /outputs. The guest sees no
	// other part of the host's file system.
	InputsDir  string
	OutputsDir string
	// Logs, when set, receives stdout and stderr as the guest writes them
	// (whatever the caps on what Result keeps). Writes to it must not block
	// for long: the guest waits on them.
	Logs io.Writer
}

// Where a guest finds its inputs and leaves its outputs.
const (
	InputsPath  = "/inputs"
	OutputsPath = "/outputs"
)

// Result is what a run produced.
type Result struct {
	// ExitCode is the guest's exit status: 0 when it exited 0 or its entry
	// point returned, the code it passed to proc_exit otherwise, and
	// ExitCodeAbnormal when it was stopped (timeout), trapped or could not
	// be started for lack of memory.
	ExitCode int
	// Stdout and Stderr hold the first MaxOutput bytes of each stream.
	Stdout, Stderr []byte
	// StdoutTruncated and StderrTruncated report output dropped at MaxOutput.
	StdoutTruncated, StderrTruncated bool
	// TimedOut reports that the guest was stopped at Task.Timeout.
	TimedOut bool
	// MemoryExceeded reports, on a best-effort basis, that the run failed
	// for lack of memory: the module's declared minimum memory is over the
	// limit, or the guest ended abnormally after writing a known
	// out-of-memory message ("out of memory", Go; "memory allocation of",
	// Rust) to stderr, or after its memory had grown to within 1/16 of the
	// limit (so that a failed memory.grow is the likely cause).
	MemoryExceeded bool
	// Reason says why a run ended abnormally, for people: the trap, the
	// timeout or the memory refusal. Empty when the guest exited by itself.
	Reason string
	// Duration is the wall time of the run (instantiation and execution),
	// not counting compilation.
	Duration time.Duration
	// Compiled reports that this run had to compile the module because it
	// was not in the executor's cache of compiled modules.
	Compiled bool
}

// ExitCodeAbnormal is Result.ExitCode for a run that did not end with an exit
// status of its own: timed out, trapped or refused for memory.
const ExitCodeAbnormal = -1

// Defaults for the zero values of Task fields.
const (
	DefaultName        = "module.wasm"
	DefaultTimeout     = 60 * time.Second
	DefaultMemoryBytes = 256 << 20
	DefaultMaxOutput   = 1 << 20
	// MaxMemoryBytes is the most linear memory a 32-bit WebAssembly
	// module can address (65536 pages of 64 KiB).
	MaxMemoryBytes = 1 << 32
	// PageSize is the size of a WebAssembly memory page.
	PageSize = 64 << 10
)

// Errors returned by Run and Validate; test with errors.Is.
var (
	// ErrInvalidModule wraps every reason a module cannot be run: not
	// WebAssembly, does not compile, not a WASI command, unknown imports.
	ErrInvalidModule = errors.New("invalid module")
	// ErrNotWASM wraps the errors of ValidateWASM (and so of
	// WASM.Validate); Run wraps it in ErrInvalidModule.
	ErrNotWASM = errors.New("not a WebAssembly module")
	// ErrInvalidTask wraps every reason a Task is refused before it runs.
	ErrInvalidTask = errors.New("invalid task")
	// ErrClosed is returned by Run once Close has been called.
	ErrClosed = errors.New("executor closed")
)

// checkTask refuses what no executor could run: it names the field.
func checkTask(t *Task) error {
	if len(t.Module) == 0 {
		return fmt.Errorf("%w: module: empty", ErrInvalidTask)
	}
	if strings.ContainsRune(t.Name, 0) {
		return fmt.Errorf("%w: name: contains a NUL byte", ErrInvalidTask)
	}
	for i, a := range t.Args {
		if strings.ContainsRune(a, 0) {
			return fmt.Errorf("%w: args[%d]: contains a NUL byte", ErrInvalidTask, i)
		}
	}
	for k, v := range t.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return fmt.Errorf("%w: env: invalid variable name %q", ErrInvalidTask, k)
		}
		if strings.ContainsRune(v, 0) {
			return fmt.Errorf("%w: env: value of %s contains a NUL byte", ErrInvalidTask, k)
		}
	}
	if t.Timeout < 0 {
		return fmt.Errorf("%w: timeout: %v is negative", ErrInvalidTask, t.Timeout)
	}
	if t.MemoryBytes > MaxMemoryBytes {
		return fmt.Errorf("%w: memory: %d bytes is over the WebAssembly limit of %d bytes (4 GiB)",
			ErrInvalidTask, t.MemoryBytes, uint64(MaxMemoryBytes))
	}
	if t.MaxOutput < 0 {
		return fmt.Errorf("%w: max output: %d is negative", ErrInvalidTask, t.MaxOutput)
	}
	return nil
}
