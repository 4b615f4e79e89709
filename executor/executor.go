package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// Executor runs one kind of workload in a sandbox: WebAssembly modules
// (*WASM, "wasm"), container images (*Docker, "docker") or commands the
// provider's owner allowed (*Exec, "exec"). Every implementation is safe for
// concurrent use.
type Executor interface {
	// Name returns the executor's kind: "wasm", "docker" or "exec".
	Name() string
	// Available returns nil when the executor can run jobs now: always for
	// wasm (until Close), when the daemon answers for docker, when its
	// limits can be enforced for exec. The error says why not.
	Available(ctx context.Context) error
	// Validate is a cheap check of t before anything is charged or run:
	// its fields, and what this executor needs of them (a module's header,
	// an image present locally, a command in the allowlist). Its errors
	// match ErrInvalidTask or ErrInvalidModule and name the field; an error
	// that matches neither is the executor's own trouble (e.g. a daemon
	// that does not answer).
	Validate(ctx context.Context, t Task) error
	// Run runs t to completion. It returns an error only for
	// infrastructure problems, an invalid task or module, a done context
	// or a closed executor; a job that exits non-zero, traps, times out or
	// hits a limit is a Result.
	Run(ctx context.Context, t Task) (Result, error)
	// Close releases everything the executor holds. Runs in flight are
	// stopped and return ErrClosed. It is safe to call more than once.
	Close() error
}

// Task is one run of a job, for any executor. Fields of another kind of
// executor are refused by Validate and Run (e.g. an Image for wasm, a Module
// for docker), so that a task is never half understood.
type Task struct {
	// WebAssembly (wasm).

	// Name is argv[0], e.g. "hello.wasm". Empty means DefaultName. Only
	// wasm uses it: a container's argv[0] comes from its image, a
	// command's is Command.
	Name string
	// Module is the module's binary.
	Module []byte
	// ModuleKey identifies Module in caches (the module's CID string).
	// Empty means the hex SHA-256 of Module. Two tasks with one key must
	// carry the same bytes.
	ModuleKey string
	// Deterministic gives the guest a fixed clock, sleeps that return at
	// once and a fixed random stream instead of the host's real ones.
	Deterministic bool

	// Containers (docker).

	// Image is the image reference or digest. It must be present locally:
	// it is pulled only when the executor was created WithAllowPull(true).
	Image string
	// Entrypoint replaces the image's entrypoint when not empty.
	Entrypoint []string
	// Network asks for network access (the daemon's default network).
	// False means NetworkMode "none". Refused unless WithAllowNetwork(true).
	// Refused by wasm, which has no network; for exec, refused unless
	// WithExecNetwork(true), and otherwise the command runs in a network
	// namespace without network (see Exec).
	Network bool

	// Commands (exec).

	// Command is the absolute path of the program to run; it must be in
	// the executor's allowlist (see NewExec). It is argv[0].
	Command string

	// Every executor.

	// Args are argv[1:]: the module's or the command's arguments, or a
	// container's command after its entrypoint (empty: the image's CMD,
	// only when Entrypoint is not set).
	Args []string
	// Env is the job's environment: the guest's, applied in sorted key
	// order (wasm); on top of the image's (docker); all of the command's
	// but for PATH and HOME defaults and the COMPUTEMESH_* variables
	// (exec, which accepts only names in its allowlist: see WithExecEnv).
	Env map[string]string
	// Stdin is the job's standard input; it reads EOF after it.
	Stdin []byte
	// Timeout bounds the run's wall-clock time; 0 means the executor's
	// default (DefaultTimeout unless configured). A container or command
	// gets SIGTERM at the timeout, then SIGKILL after a grace.
	Timeout time.Duration
	// MemoryBytes bounds the job's memory; 0 means the executor's default
	// (DefaultMemoryBytes unless configured). For wasm it is the guest's
	// linear memory, rounded up to whole 64 KiB pages, at most
	// MaxMemoryBytes; for docker the container's memory with swap equal to
	// it (at least MinDockerMemoryBytes); for exec each process's address
	// space (RLIMIT_AS).
	MemoryBytes uint64
	// CPUMillis is the CPU the job may use in thousandths of a core; 0
	// means DefaultDockerCPUMillis (one core). Docker enforces it as a
	// quota (at least MinDockerCPUMillis); exec bounds each process's CPU
	// time by CPUMillis × Timeout (RLIMIT_CPU); wasm ignores it (a guest
	// runs on one thread).
	CPUMillis int64
	// GPUs is how many GPUs the job gets: docker requests them from the
	// "nvidia" device driver (capability "gpu"); exec only meters them
	// (a confined command reaches no GPU device); wasm refuses any.
	GPUs int
	// MaxOutput is how many bytes are kept of each of stdout and stderr;
	// 0 means the executor's default (DefaultMaxOutput unless configured).
	MaxOutput int
	// InputsDir, when set, is a host directory the job reads its inputs
	// from and OutputsDir one where it leaves its outputs: mounted at
	// /inputs (read-only) and /outputs for wasm and docker (which see no
	// other part of the host's file system), named by COMPUTEMESH_INPUTS
	// and COMPUTEMESH_OUTPUTS for exec. Docker needs absolute paths, and an
	// OutputsDir writable by the container's user. For wasm every guest
	// path resolves beneath its mount (os.Root: no link or ".." leads out),
	// and a guest may create no symbolic or hard link (EPERM). Whatever the
	// executor, OutputsDir is the job's: read it back without following
	// links (store.AddDir does).
	InputsDir  string
	OutputsDir string
	// DiskBytes bounds what the job may leave in OutputsDir while it runs
	// (bytes of regular files); 0 means no bound. WASM enforces it exactly:
	// a file counts its size (a sparse file in full), a write that would
	// pass the bound is cut at it and the next fails (EIO: wazero's WASI
	// layer has no ENOSPC), space freed by a removal or truncation is
	// given back; docker and exec watch the
	// directory and stop the job once it is over (within DiskSlack and
	// DiskCheckInterval) or, for what came after the last look, when it
	// has ended; they also give every process a file-size limit
	// (RLIMIT_FSIZE) of DiskBytes + 1, so no single file outgrows the bound
	// however fast it is written (the writer gets SIGXFSZ, or EFBIG when it
	// ignores it; the limit holds for files outside OutputsDir too). A run
	// stopped for it reports Result.DiskExceeded.
	DiskBytes uint64
	// MaxFiles bounds how many files and directories the job may leave in
	// OutputsDir; 0 means no bound. Enforced like DiskBytes.
	MaxFiles int
	// Logs, when set, receives stdout and stderr as the job writes them
	// (whatever the caps on what Result keeps), from one goroutine at a
	// time and never after Run returns. Writes to it must not block for
	// long: the job waits on them. Its errors never fail the run (docker
	// and exec stop writing to it at the first one).
	Logs io.Writer
}

// Where a guest finds its inputs and leaves its outputs.
const (
	InputsPath  = "/inputs"
	OutputsPath = "/outputs"
)

// Result is what a run produced, for any executor.
type Result struct {
	// ExitCode is the job's exit status (for wasm: 0 when it exited 0 or
	// its entry point returned, the code it passed to proc_exit otherwise),
	// or ExitCodeAbnormal when it did not end with a status of its own:
	// stopped (timeout, cancellation, Close), trapped, killed by a signal,
	// killed or refused for memory.
	ExitCode int
	// Stdout and Stderr hold the first MaxOutput bytes of each stream.
	Stdout, Stderr []byte
	// StdoutTruncated and StderrTruncated report output dropped at MaxOutput.
	StdoutTruncated, StderrTruncated bool
	// TimedOut reports that the job was stopped at Task.Timeout.
	TimedOut bool
	// MemoryExceeded reports that the run failed for lack of memory.
	//
	// For docker it is the daemon's State.OOMKilled: the kernel killed the
	// job at its memory limit.
	//
	// For wasm and exec it is best effort: the job ended abnormally or
	// non-zero after writing a known out-of-memory message ("out of
	// memory", Go; "memory allocation of", Rust; for exec also "Cannot
	// allocate memory", "MemoryError", "std::bad_alloc" and a few more)
	// to stderr; for
	// wasm also when the module's declared minimum memory is over the
	// limit, or after its memory had grown to within 1/16 of the limit (so
	// that a failed memory.grow is the likely cause).
	MemoryExceeded bool
	// Reason says why a run ended abnormally, for people: the trap, "timed
	// out after 1s", "memory limit exceeded", "killed by signal: …",
	// "cancelled", "executor closed". Empty when the job exited by itself.
	Reason string
	// Duration is the wall time of the run: for wasm instantiation and
	// execution, not counting compilation; for docker from the start
	// request to the exit seen by the daemon (not counting image checks,
	// creation and removal); for exec from the start of the process to its
	// exit.
	Duration time.Duration
	// CPUSeconds is the CPU time the job used, metered:
	//   - docker: best effort, the container cgroup's usage (user+system,
	//     all processes) as last sampled by the daemon's stats stream while
	//     it ran; the daemon samples about once a second and the cgroup is
	//     gone at exit, so it is a lower bound: 0 for a run shorter than the
	//     first sample, short by up to one sampling interval otherwise;
	//   - wasm: Duration in seconds. A guest is single-threaded and runs on
	//     one goroutine from start to end, so its wall time is charged as
	//     one core busy (sleeps and waits on output included: an upper
	//     bound of what it used);
	//   - exec: the process's user+system time from its rusage, including
	//     the children it waited for (not those it left behind).
	CPUSeconds float64
	// GPUSeconds is GPUs × Duration: allocation-time metering (the GPUs
	// were the job's for the whole run, used or not). Always 0 for wasm.
	GPUSeconds float64
	// PeakMemoryBytes is the most memory the job held, metered:
	//   - wasm: the size its linear memory reached (it only grows);
	//   - exec: the largest resident set of the process or of a child it
	//     waited for (rusage maxrss);
	//   - docker: best effort, the largest cgroup memory usage the daemon's
	//     stats stream reported while it ran (sampled about once a second:
	//     a lower bound, 0 for a run shorter than the first sample).
	PeakMemoryBytes uint64
	// DiskExceeded reports that the job was stopped (or, for wasm, its
	// writes refused) because its outputs reached Task.DiskBytes or
	// Task.MaxFiles.
	DiskExceeded bool
	// Compiled reports, for wasm, that this run had to compile the module
	// because it was not in the executor's cache of compiled modules.
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
	// DiskSlack is how far past Task.DiskBytes the outputs of a docker or
	// exec job may grow before the job is stopped, and DiskCheckInterval
	// how often they are measured.
	DiskSlack         = 64 << 20
	DiskCheckInterval = 250 * time.Millisecond
)

// Errors returned by Run and Validate; test with errors.Is.
var (
	// ErrInvalidModule wraps every reason a module cannot be run: not
	// WebAssembly, does not compile, not a WASI command, unknown imports.
	ErrInvalidModule = errors.New("invalid module")
	// ErrNotWASM wraps the errors of ValidateWASM; WASM.Validate's errors
	// about the header match it and ErrInvalidModule, and Run wraps it in
	// ErrInvalidModule.
	ErrNotWASM = errors.New("not a WebAssembly module")
	// ErrInvalidTask wraps every reason a Task is refused before it runs.
	ErrInvalidTask = errors.New("invalid task")
	// ErrClosed is returned by Run once Close has been called.
	ErrClosed = errors.New("executor closed")
)

// invalidTask returns an error matching ErrInvalidTask: "invalid task: "
// and the message, which names the field.
func invalidTask(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidTask}, args...)...)
}

// taskError is an invalid task: it matches ErrInvalidTask and, when set, a
// more specific sentinel.
type taskError struct {
	msg  string
	kind error
}

func (e *taskError) Error() string { return "invalid task: " + e.msg }

func (e *taskError) Is(target error) bool {
	return target == ErrInvalidTask || (e.kind != nil && target == e.kind)
}

// invalidTaskKind returns an error matching ErrInvalidTask and, when not
// nil, kind.
func invalidTaskKind(kind error, format string, args ...any) error {
	return &taskError{msg: fmt.Sprintf(format, args...), kind: kind}
}

// checkCommon refuses, naming the field, what no executor could run in the
// fields every executor reads.
func checkCommon(t *Task) error {
	for i, a := range t.Args {
		if strings.ContainsRune(a, 0) {
			return invalidTask("args[%d]: contains a NUL byte", i)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(t.Env)) {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return invalidTask("env: invalid variable name %q", k)
		}
		if strings.ContainsRune(t.Env[k], 0) {
			return invalidTask("env: value of %s contains a NUL byte", k)
		}
	}
	switch {
	case t.Timeout < 0:
		return invalidTask("timeout: %v is negative", t.Timeout)
	case t.MaxOutput < 0:
		return invalidTask("max output: %d is negative", t.MaxOutput)
	case t.GPUs < 0:
		return invalidTask("gpus: %d is negative", t.GPUs)
	case t.CPUMillis < 0:
		return invalidTask("cpu: %d millicores is negative", t.CPUMillis)
	}
	return nil
}

// refuseFields refuses the fields of t that executor name does not use,
// naming the first one set.
func refuseFields(name string, t *Task, fields ...string) error {
	for _, f := range fields {
		set := false
		switch f {
		case "name":
			set = t.Name != ""
		case "module":
			set = len(t.Module) > 0
		case "module key":
			set = t.ModuleKey != ""
		case "deterministic":
			set = t.Deterministic
		case "image":
			set = t.Image != ""
		case "entrypoint":
			set = len(t.Entrypoint) > 0
		case "network":
			set = t.Network
		case "command":
			set = t.Command != ""
		case "gpus":
			set = t.GPUs > 0
		default:
			panic("executor: refuseFields: unknown field " + f)
		}
		if set {
			return invalidTask("%s: not used by the %s executor", f, name)
		}
	}
	return nil
}

// checkTask refuses what the WASM executor cannot run: it names the field.
func checkTask(t *Task) error {
	if len(t.Module) == 0 {
		return invalidTask("module: empty")
	}
	if strings.ContainsRune(t.Name, 0) {
		return invalidTask("name: contains a NUL byte")
	}
	if err := checkCommon(t); err != nil {
		return err
	}
	if t.MemoryBytes > MaxMemoryBytes {
		return invalidTask("memory: %d bytes is over the WebAssembly limit of %d bytes (4 GiB)",
			t.MemoryBytes, uint64(MaxMemoryBytes))
	}
	return refuseFields("wasm", t, "image", "entrypoint", "command", "network", "gpus")
}
