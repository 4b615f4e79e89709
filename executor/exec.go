package executor

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

var _ Executor = (*Exec)(nil)

// Settings of the exec executor.
const (
	// ExecInputsEnv and ExecOutputsEnv name, in a command's environment,
	// Task.InputsDir and Task.OutputsDir (absent when not set).
	ExecInputsEnv  = "COMPUTEMESH_INPUTS"
	ExecOutputsEnv = "COMPUTEMESH_OUTPUTS"
	// ExecPath is a command's PATH unless its task's Env sets one.
	ExecPath = "/usr/bin:/bin"
	// DefaultExecStopGrace is how long a stopped command's process group
	// has between SIGTERM and SIGKILL.
	DefaultExecStopGrace = 2 * time.Second
	// execDrainTimeout bounds the wait for output still in flight after the
	// process group is gone (a process that left the group may hold the
	// pipes).
	execDrainTimeout = 5 * time.Second
)

// ErrCommandNotAllowed is returned by Exec's Validate and Run for a command
// that is not in the owner's allowlist; it also matches ErrInvalidTask.
var ErrCommandNotAllowed = errors.New("command not allowed")

// What commands print to stderr when an allocation fails (Result.MemoryExceeded).
var execOOMMarkers = []string{
	oomMarkerGo, oomMarkerRust,
	"Out of memory",                 // C programs, glibc's malloc messages
	"Cannot allocate memory",        // strerror(ENOMEM)
	"MemoryError",                   // Python
	"std::bad_alloc",                // C++
	"OutOfMemoryError",              // Java
	"JavaScript heap out of memory", // Node.js
	"failed to map segment",         // the dynamic loader, under a tight address-space limit
}

// Exec is the command Executor: it runs programs of the host that the
// provider's owner allowed by absolute path (see NewExec). It is off unless
// the owner gives an allowlist. It is safe for concurrent use; Close it when
// done.
//
// Every command runs confined (where the kernel allows it: see
// Confinement), through a helper (the node's own binary, run again) that
// confines itself and then executes the command, which inherits it all:
//   - Landlock: the command may read and execute the system's programs
//     and libraries (/usr, /bin, /sbin, /lib*), read the few files of /etc
//     the C library needs (not /etc/shadow), /dev/null, /dev/zero,
//     /dev/urandom, the owner's extra paths (WithExecReadPaths) and the
//     task's InputsDir, and read and write its work directory and
//     OutputsDir (no symbolic links there, and no hard link or rename that
//     brings a file from elsewhere). Nothing else: not the node's data
//     directory, not /tmp, not /proc. From Landlock ABI 6 it cannot signal
//     processes outside its sandbox (the node) nor reach their abstract
//     Unix sockets;
//   - a network namespace without network (not even a loopback up) unless
//     the owner allows network (WithExecNetwork) and the task asks for it
//     (Task.Network), and an IPC namespace; a user namespace mapping only
//     the node's user and group too when the node is not root;
//   - no capabilities, not even when the node runs as root, and
//     no-new-privileges (set-user-ID programs do not raise it);
//   - seccomp: no Unix sockets (socket(AF_UNIX) fails with EACCES;
//     socketpair works) and no io_uring;
//   - an environment from an allowlist of names (see WithExecEnv); names
//     that change how programs load code (LD_*, GCONV_PATH, PYTHONPATH, …)
//     are refused whatever the owner allows.
//
// Where that confinement is not available (a kernel without Landlock or
// user namespaces, …), Available fails and every task is refused, unless the
// owner allows unconfined commands (WithExecUnconfined): such a command runs
// as the node's own user and sees the host's file system, devices and
// network, so only commands the owner trusts with that belong in the
// allowlist then.
//
// Confined or not, for each run Exec enforces:
//   - a fresh work directory (a private temporary directory) as the
//     command's working directory, HOME and TMPDIR, removed afterwards;
//   - an environment of the task's Env alone, with PATH (ExecPath) and
//     HOME defaults and COMPUTEMESH_INPUTS / COMPUTEMESH_OUTPUTS naming the
//     task's directories — nothing of the node's environment;
//   - its own process group: at the timeout (or cancellation, or Close) the
//     group gets SIGTERM, then SIGKILL after the stop grace, and whatever
//     the command left running in its group is killed when it exits (a
//     process that moves to another group or session escapes this);
//   - an address-space limit of Task.MemoryBytes (RLIMIT_AS: the virtual
//     memory of each process, which runtimes that reserve much address
//     space, such as Go's or the JVM, count against it), a CPU-time limit
//     of CPUMillis × Timeout per process (RLIMIT_CPU) and no core dumps.
//     There is no CPU rate limit, no PID limit and no memory limit on the
//     group as a whole (that needs cgroups: use docker);
//   - stdout and stderr capped at MaxOutput each and teed to Task.Logs.
//
// The executor is Linux only: NewExec fails elsewhere.
type Exec struct {
	cfg   execConfig
	allow map[string]bool // absolute, clean paths
	env   envPolicy
	// confiner confines commands; nil when it cannot, and reason says why.
	confiner *confiner
	reason   string

	// base is cancelled by Close, which stops the runs in flight.
	base   context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	closed bool
}

// NewExec returns an exec executor that runs the commands in allow and no
// other. Each entry is an absolute path or a bare program name, resolved
// now through PATH (exec.LookPath); either way it must name an executable
// regular file. Tasks name commands by the resolved, cleaned absolute path
// (see Commands). An empty allowlist is an error: exec is off unless the
// owner allows commands.
func NewExec(allow []string, opts ...ExecOption) (*Exec, error) {
	if !execSupported {
		return nil, errors.New("exec executor: only supported on Linux")
	}
	cfg := execConfig{
		stopGrace:      DefaultExecStopGrace,
		defaultTimeout: DefaultTimeout,
		defaultMemory:  DefaultMemoryBytes,
		defaultOutput:  DefaultMaxOutput,
	}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, fmt.Errorf("exec executor: %w", err)
		}
	}
	if len(allow) == 0 {
		return nil, errors.New("exec executor: no allowed commands (exec is off unless the owner allows commands)")
	}
	e := &Exec{cfg: cfg, allow: make(map[string]bool, len(allow))}
	e.env.allowed = append(slices.Clone(execEnvAllowed), cfg.envAllow...)
	for _, a := range allow {
		p, err := resolveCommand(a)
		if err != nil {
			return nil, fmt.Errorf("exec executor: allowed command %q: %w", a, err)
		}
		e.allow[p] = true
	}
	if c, err := newConfiner(); err != nil {
		e.reason = err.Error()
	} else {
		e.confiner = c
	}
	if cfg.workRoot != "" {
		if err := os.MkdirAll(cfg.workRoot, 0o700); err != nil {
			return nil, fmt.Errorf("exec executor: work root: %w", err)
		}
	}
	e.base, e.cancel = context.WithCancel(context.Background())
	return e, nil
}

// resolveCommand turns an allowlist entry into the absolute path of an
// executable regular file.
func resolveCommand(a string) (string, error) {
	switch {
	case a == "" || strings.ContainsRune(a, 0):
		return "", errors.New("not a program name or path")
	case filepath.IsAbs(a):
		a = filepath.Clean(a)
	case strings.ContainsRune(a, filepath.Separator):
		return "", errors.New("a relative path: give an absolute path or a bare program name")
	default:
		p, err := exec.LookPath(a)
		if err != nil {
			return "", err
		}
		if p, err = filepath.Abs(p); err != nil {
			return "", err
		}
		a = p
	}
	fi, err := os.Stat(a)
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("%s is not an executable file", a)
	}
	return a, nil
}

// Name returns "exec".
func (e *Exec) Name() string { return "exec" }

// Commands returns the allowed commands: absolute paths, sorted.
func (e *Exec) Commands() []string { return slices.Sorted(maps.Keys(e.allow)) }

// Allowed reports whether command (an absolute path, as in Task.Command) is
// in the allowlist.
func (e *Exec) Allowed(command string) bool { return e.allow[command] }

// Confinement says how commands run (see Exec).
func (e *Exec) Confinement() Confinement {
	c := Confinement{Reason: e.reason, Unconfined: e.cfg.unconfined, Network: e.cfg.network}
	if e.confiner != nil {
		c.Landlock, c.UserNamespace = e.confiner.abi, e.confiner.userns
	}
	return c
}

// Available returns nil when commands can run: confined, or unconfined where
// the owner allows it (WithExecUnconfined), and Close has not been called.
func (e *Exec) Available(context.Context) error {
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	switch {
	case closed:
		return ErrClosed
	case e.refused():
		return fmt.Errorf("exec: commands cannot be confined here: %s (the owner may allow unconfined commands: --exec-unconfined)", e.reason)
	}
	return nil
}

// refused reports whether commands cannot run: not confined, and the owner
// does not allow unconfined ones.
func (e *Exec) refused() bool { return e.confiner == nil && !e.cfg.unconfined }

// Close stops the runs in flight (they return ErrClosed once their process
// group is gone) and waits for them. It is safe to call more than once.
func (e *Exec) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	e.cancel()
	e.mu.Unlock()
	e.wg.Wait()
	return nil
}

// enter registers a run; it fails once Close has been called.
func (e *Exec) enter() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ErrClosed
	}
	e.wg.Add(1)
	return nil
}

// Validate checks t without running it: its fields (naming the field), that
// its command is allowed (ErrCommandNotAllowed, naming the command), its
// environment (ErrEnvNotAllowed, naming the variable), that it may have the
// network if it asks, that commands can run here (confined, or unconfined
// where the owner allows it) and that its directories exist.
func (e *Exec) Validate(_ context.Context, t Task) error {
	return e.checkTask(&t)
}

// checkTask refuses what cannot run, naming the field.
func (e *Exec) checkTask(t *Task) error {
	if err := refuseFields("exec", t, "module", "module key", "name", "deterministic", "image", "entrypoint"); err != nil {
		return err
	}
	switch {
	case t.Command == "":
		return invalidTask("command: empty")
	case strings.ContainsRune(t.Command, 0):
		return invalidTask("command: contains a NUL byte")
	case !e.allow[t.Command]:
		return invalidTaskKind(ErrCommandNotAllowed, "command: %s is not allowed by this provider's owner", t.Command)
	}
	if err := checkCommon(t); err != nil {
		return err
	}
	if err := e.env.check(t.Env); err != nil {
		return err
	}
	switch {
	case e.refused():
		return invalidTask("command: exec is refused here: commands cannot be confined (%s) and the owner does not allow unconfined ones", e.reason)
	case t.Network && !e.cfg.network:
		return invalidTask("network: this provider's owner does not allow exec jobs network access")
	case t.MemoryBytes > math.MaxInt64:
		return invalidTask("memory: %d bytes is too many", t.MemoryBytes)
	case t.CPUMillis > math.MaxInt64/1000:
		return invalidTask("cpu: %d millicores is too many", t.CPUMillis)
	}
	for name, dir := range map[string]string{"inputs dir": t.InputsDir, "outputs dir": t.OutputsDir} {
		if dir == "" {
			continue
		}
		if !filepath.IsAbs(dir) || strings.ContainsRune(dir, 0) {
			return invalidTask("%s: %q must be an absolute path", name, dir)
		}
		fi, err := os.Stat(dir)
		if err != nil {
			return invalidTask("%s: %v", name, err)
		}
		if !fi.IsDir() {
			return invalidTask("%s: %s is not a directory", name, dir)
		}
	}
	return nil
}

// applyDefaults fills t's zero fields.
func (e *Exec) applyDefaults(t *Task) {
	if t.Timeout == 0 {
		t.Timeout = e.cfg.defaultTimeout
	}
	if t.MemoryBytes == 0 {
		t.MemoryBytes = e.cfg.defaultMemory
	}
	if t.CPUMillis == 0 {
		t.CPUMillis = DefaultDockerCPUMillis
	}
	if t.MaxOutput == 0 {
		t.MaxOutput = e.cfg.defaultOutput
	}
}

// Run runs t's command in a fresh work directory under t's limits and
// removes the directory afterwards, whatever happens. It returns an error
// only for an invalid task (matching ErrInvalidTask; ErrCommandNotAllowed
// for a command not in the allowlist), a command that cannot be started, a
// done ctx (the process group is stopped first; the error wraps ctx's
// cause) or a closed executor (ErrClosed). A command that exits non-zero,
// is killed by a signal or times out is a Result. If the work directory
// cannot be removed the error says so, next to the result.
func (e *Exec) Run(ctx context.Context, t Task) (res Result, err error) {
	if err := e.enter(); err != nil {
		return Result{}, err
	}
	defer e.wg.Done()
	if err := e.checkTask(&t); err != nil {
		return Result{}, err
	}
	e.applyDefaults(&t)

	// opCtx is done when ctx is or when Close is called.
	opCtx, opCancel := context.WithCancel(ctx)
	defer opCancel()
	stopOnClose := context.AfterFunc(e.base, opCancel)
	defer stopOnClose()

	work, err := os.MkdirTemp(e.cfg.workRoot, "computemesh-exec-")
	if err != nil {
		return Result{}, fmt.Errorf("exec: work directory: %w", err)
	}
	defer func() {
		if rmErr := removeWorkDir(work); rmErr != nil {
			err = errors.Join(err, fmt.Errorf("exec: remove work directory: %w", rmErr))
		}
	}()
	tmp := filepath.Join(work, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return Result{}, fmt.Errorf("exec: work directory: %w", err)
	}
	return e.run(ctx, opCtx, work, &t)
}

// environ is the command's environment, sorted: the task's Env over the PATH,
// HOME and TMPDIR defaults, and the COMPUTEMESH_* variables.
func environ(t *Task, work string) []string {
	env := map[string]string{"PATH": ExecPath, "HOME": work, "TMPDIR": filepath.Join(work, "tmp")}
	maps.Copy(env, t.Env)
	delete(env, ExecInputsEnv)
	delete(env, ExecOutputsEnv)
	if t.InputsDir != "" {
		env[ExecInputsEnv] = t.InputsDir
	}
	if t.OutputsDir != "" {
		env[ExecOutputsEnv] = t.OutputsDir
	}
	out := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}
