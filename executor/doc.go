// Package executor runs computemesh jobs in sandboxes.
//
// Three kinds of workload run here, each behind the Executor interface (Name,
// Available, Validate, Run, Close) with one Task and one Result, and each
// wired explicitly by the node:
//
//   - WebAssembly (NewWASM, "wasm"): a WASI preview 1 command module runs
//     under wazero with no network and no host access beyond its arguments,
//     environment, stdin, stdout, stderr, clocks, randomness and, when
//     given, an inputs directory mounted read-only at /inputs and an outputs
//     directory at /outputs;
//   - containers (NewDocker, "docker"): through the Docker Engine API, with
//     a read-only root file system, no network unless the owner allows it,
//     all capabilities dropped, no new privileges, CPU, memory (swap
//     included) and PID limits, GPUs by device request, inputs read-only and
//     outputs read-write; the container is removed whatever happens, and
//     Janitor removes what a crashed node left;
//   - commands (NewExec, "exec"): off unless the owner gives an allowlist of
//     programs; each run in a fresh work directory, with an environment
//     from an allowlist of names, in its own process group, under
//     address-space and CPU-time limits, confined (Landlock, namespaces,
//     seccomp, no capabilities) or, where that is not available, refused
//     unless the owner allows unconfined commands: see Exec.
//
// Every Result carries metered usage next to the outcome: Duration,
// CPUSeconds and GPUSeconds (see Result for how each executor measures
// them).
//
// # Limits
//
// Every run is bounded:
//   - wall-clock time (Task.Timeout): the job is stopped when it runs out,
//     even inside an infinite loop or a sleep, and Result.TimedOut is set;
//   - memory (Task.MemoryBytes): for wasm, linear memory enforced by
//     wazero's page limit, one wazero Runtime per distinct limit, all
//     sharing one compilation cache (on Linux each guest's memory is a
//     mapping of its own, reserved at the limit and grown in place); for
//     docker the cgroup's; for exec each process's address space;
//   - output (Task.MaxOutput): each of stdout and stderr keeps its first
//     MaxOutput bytes and drops the rest, setting the Truncated flags. The
//     guest never sees an error for dropped output.
//
// # Results and errors
//
// Run returns an error only for problems that are not the job's own doing:
// an invalid module, an invalid task, a cancelled context or a closed
// executor. A job that exits non-zero, traps, times out or hits its memory
// limit yields a Result describing what happened (see ExitCodeAbnormal).
// Validate makes Run's cheap checks of a task (not compiling a module nor
// starting anything) so that a provider can refuse it before anything is
// charged: its errors match ErrInvalidTask or ErrInvalidModule and name the
// field.
//
// # Determinism
//
// By default a guest sees the host's real clocks, real sleeps and
// crypto/rand. Task.Deterministic gives it wazero's deterministic defaults
// instead: a clock fixed at 2022-01-01, sleeps that return at once and a
// fixed random stream, so that replicas of a job can be compared byte for
// byte.
//
// # Caching
//
// Compiled modules are cached per memory-limit class by Task.ModuleKey (the
// module's CID), in a bounded LRU. Compilation results are also shared across
// runtimes and, with WithCacheDir, across process restarts.
package executor
