package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
)

// Bounds on the daemon's own work, so that a wedged daemon cannot hold a run
// for ever.
const (
	dockerCleanupTimeout = 30 * time.Second // stop, kill, inspect, remove
	dockerStopSlack      = 10 * time.Second // beyond the grace, for the exit to be seen
	dockerDrainTimeout   = 5 * time.Second  // output still in flight after the exit
)

// Run runs t in a new container and removes the container afterwards,
// whatever happens. It returns an error only for an invalid task (matching
// ErrInvalidTask), a daemon problem, a done ctx (the container is stopped
// first; the error wraps ctx's cause) or a closed executor (ErrClosed). A job
// that exits non-zero, times out or is killed for memory (MemoryExceeded) is
// a Result.
// If the container cannot be removed the error says so, next to the result.
func (d *Docker) Run(ctx context.Context, t Task) (res Result, err error) {
	if err := d.enter(); err != nil {
		return Result{}, err
	}
	defer d.wg.Done()
	if err := d.checkTask(&t); err != nil {
		return Result{}, err
	}
	applyDockerDefaults(&t)

	// opCtx is done when ctx is or when Close is called.
	opCtx, opCancel := context.WithCancel(ctx)
	defer opCancel()
	stopOnClose := context.AfterFunc(d.base, opCancel)
	defer stopOnClose()

	if err := d.ensureImage(opCtx, t.Image); err != nil {
		return d.failed(ctx, err)
	}

	runID := newRunID()
	name := "computemesh-" + runID
	cfg, hostCfg := d.containerConfig(&t, runID)
	created, err := d.cli.ContainerCreate(opCtx, cfg, hostCfg, nil, nil, name)
	id := created.ID
	if id == "" {
		id = name // a create cut short may still have made it: remove by name
	}
	defer func() {
		if rmErr := d.remove(id); rmErr != nil {
			err = errors.Join(err, rmErr)
		}
	}()
	if err != nil {
		return d.failed(ctx, fmt.Errorf("docker: create container for %s: %w", t.Image, err))
	}
	return d.run(ctx, opCtx, id, &t)
}

// run attaches to, starts and waits for the created container id.
func (d *Docker) run(ctx, opCtx context.Context, id string, t *Task) (Result, error) {
	hasStdin := len(t.Stdin) > 0
	att, err := d.cli.ContainerAttach(opCtx, id, container.AttachOptions{
		Stream: true, Stdin: hasStdin, Stdout: true, Stderr: true,
	})
	if err != nil {
		return d.failed(ctx, fmt.Errorf("docker: attach: %w", err))
	}
	stdout, stderr := newCappedWriter(t.MaxOutput), newCappedWriter(t.MaxOutput)
	copyDone, stdinDone := d.pump(&att, t, stdout, stderr)
	var closeOnce atomic.Bool
	closeAttach := func() {
		if closeOnce.CompareAndSwap(false, true) {
			att.Close()
		}
		<-copyDone
		<-stdinDone
	}
	defer closeAttach() // Logs is never written after Run returns

	// The wait must not end with ctx: after a stop, the exit is still wanted.
	waitCtx, waitCancel := context.WithCancel(context.Background())
	defer waitCancel()
	waitC, waitErrC := d.cli.ContainerWait(waitCtx, id, container.WaitConditionNextExit)

	start := time.Now()
	if err := d.cli.ContainerStart(opCtx, id, container.StartOptions{}); err != nil {
		return d.failed(ctx, fmt.Errorf("docker: start: %w", err))
	}
	var cpuNanos, peakMem atomic.Uint64
	statsCtx, statsCancel := context.WithCancel(context.Background())
	statsDone := d.sampleCPU(statsCtx, id, &cpuNanos, &peakMem)
	defer func() { statsCancel(); <-statsDone }()
	initPid := d.watchPid(statsCtx, id, t.DiskBytes > 0 || t.MaxFiles > 0)

	disk := watchDisk(t)
	defer disk.Stop()
	exit, stopped, err := d.await(opCtx, id, t.Timeout, disk, initPid, waitC, waitErrC)
	if err != nil {
		return Result{}, err
	}
	duration := time.Since(start)
	if exit.Error != nil && exit.Error.Message != "" {
		return Result{}, fmt.Errorf("docker: wait: %s", exit.Error.Message)
	}

	// The attach stream ends once the daemon has sent all output.
	select {
	case <-copyDone:
	case <-time.After(dockerDrainTimeout):
	}
	closeAttach()

	res := Result{
		ExitCode:        int(exit.StatusCode),
		Stdout:          stdout.Bytes(),
		Stderr:          stderr.Bytes(),
		StdoutTruncated: stdout.Truncated(),
		StderrTruncated: stderr.Truncated(),
		Duration:        duration,
		GPUSeconds:      float64(t.GPUs) * duration.Seconds(),
	}
	res.MemoryExceeded = d.oomKilled(id, exit.StatusCode, stopped != "")
	statsCancel()
	<-statsDone
	res.CPUSeconds = float64(cpuNanos.Load()) / 1e9
	res.PeakMemoryBytes = peakMem.Load()
	return finishDocker(ctx, res, stopped, disk, t)
}

// await waits for the container to exit, stopping it on timeout, when it
// fills its disk or when opCtx ends; stopped says why the executor stopped
// it ("timeout", "disk", "cancelled", "closed") or is "".
func (d *Docker) await(opCtx context.Context, id string, timeout time.Duration, disk *diskWatch, initPid *atomic.Int64,
	waitC <-chan container.WaitResponse, waitErrC <-chan error) (exit container.WaitResponse, stopped string, err error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case exit = <-waitC:
	case err := <-waitErrC:
		return exit, "", fmt.Errorf("docker: wait: %w", err)
	case <-timer.C:
		stopped = "timeout"
	case <-disk.Over():
		stopped = "disk"
		// No grace: it would write on. Killing the container's init
		// process from here ends its PID namespace at once; the daemon's
		// kill, a round trip later, lets a fast writer add hundreds of MiB.
		if pid := initPid.Load(); pid > 0 {
			killPid(int(pid))
		}
		d.kill(id)
	case <-opCtx.Done():
		stopped = "cancelled"
		if d.base.Err() != nil {
			stopped = "closed"
		}
	}
	if stopped != "" {
		exit, err = d.stop(id, waitC, waitErrC)
		if err != nil {
			return exit, stopped, err
		}
	}
	return exit, stopped, nil
}

// finishDocker completes res with why the executor stopped the container,
// if it did, with outputs found over a bound once it ended, or with running
// out of memory.
func finishDocker(ctx context.Context, res Result, stopped string, disk *diskWatch, t *Task) (Result, error) {
	disk.Stop()
	if stopped == "" && disk.Check() {
		stopped = "disk" // over a bound since the last scan
	}
	switch stopped {
	case "timeout":
		res.ExitCode, res.TimedOut = ExitCodeAbnormal, true
		res.Reason = fmt.Sprintf("timed out after %v", t.Timeout)
	case "disk":
		res.ExitCode, res.DiskExceeded, res.Reason = ExitCodeAbnormal, true, disk.Reason()
		return res, nil
	case "cancelled":
		res.ExitCode, res.Reason = ExitCodeAbnormal, "cancelled"
		return res, fmt.Errorf("docker run: %w", context.Cause(ctx))
	case "closed":
		res.ExitCode, res.Reason = ExitCodeAbnormal, "executor closed"
		return res, fmt.Errorf("docker run: %w", ErrClosed)
	}
	if res.MemoryExceeded {
		res.ExitCode = ExitCodeAbnormal
		if res.Reason == "" {
			res.Reason = "memory limit exceeded"
		}
	}
	return res, nil
}

// pump copies the attach stream's output into stdout, stderr and t.Logs, and
// t.Stdin into it. The channels close when each copy ends; both end once the
// attach connection is closed.
func (d *Docker) pump(att *types.HijackedResponse, t *Task, stdout, stderr *cappedWriter) (copyDone, stdinDone chan struct{}) {
	copyDone, stdinDone = make(chan struct{}), make(chan struct{})
	var outW, errW io.Writer = stdout, stderr
	if t.Logs != nil {
		logs := &liveLogs{w: t.Logs}
		outW, errW = io.MultiWriter(stdout, logs), io.MultiWriter(stderr, logs)
	}
	go func() {
		defer close(copyDone)
		_, _ = stdcopy.StdCopy(outW, errW, att.Reader)
	}()
	go func() {
		defer close(stdinDone)
		if len(t.Stdin) == 0 {
			return
		}
		if _, err := att.Conn.Write(t.Stdin); err != nil {
			return
		}
		_ = att.CloseWrite() // EOF for the job (StdinOnce)
	}()
	return copyDone, stdinDone
}

// liveLogs forwards to the caller's Logs writer until its first error; it
// never fails, so the job's output is not disturbed. It is written from one
// goroutine (stdcopy's).
type liveLogs struct {
	w      io.Writer
	failed bool
}

func (l *liveLogs) Write(p []byte) (int, error) {
	if !l.failed {
		if _, err := l.w.Write(p); err != nil {
			l.failed = true
		}
	}
	return len(p), nil
}

// sampleCPU follows the container's stats stream, keeping the last cgroup
// CPU usage seen (nanoseconds) and the largest memory usage (bytes; the
// daemon's max_usage where the cgroup reports one). The returned channel
// closes when it stops: at the end of the stream or when ctx is done.
func (d *Docker) sampleCPU(ctx context.Context, id string, cpuNanos, peakMem *atomic.Uint64) chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		sr, err := d.cli.ContainerStats(ctx, id, true)
		if err != nil {
			return
		}
		defer sr.Body.Close()
		stop := context.AfterFunc(ctx, func() { sr.Body.Close() })
		defer stop()
		dec := json.NewDecoder(sr.Body)
		for {
			var s container.StatsResponse
			if dec.Decode(&s) != nil {
				return
			}
			if u := s.CPUStats.CPUUsage.TotalUsage; u > cpuNanos.Load() {
				cpuNanos.Store(u)
			}
			if m := max(s.MemoryStats.Usage, s.MemoryStats.MaxUsage); m > peakMem.Load() {
				peakMem.Store(m)
			}
		}
	}()
	return done
}

// stop stops the container (SIGTERM, then SIGKILL after the grace) and
// returns its exit as seen by the wait.
func (d *Docker) stop(id string, waitC <-chan container.WaitResponse, waitErrC <-chan error) (container.WaitResponse, error) {
	grace := d.graceSeconds()
	ctx, cancel := context.WithTimeout(context.Background(), dockerCleanupTimeout)
	defer cancel()
	stopErr := d.cli.ContainerStop(ctx, id, container.StopOptions{Timeout: &grace})
	bound := time.Duration(grace)*time.Second + dockerStopSlack
	select {
	case exit := <-waitC:
		return exit, nil
	case err := <-waitErrC:
		return container.WaitResponse{}, fmt.Errorf("docker: wait after stop: %w", err)
	case <-time.After(bound):
	}
	// The stop did not take: kill, and wait a little more.
	killErr := d.cli.ContainerKill(ctx, id, "SIGKILL")
	select {
	case exit := <-waitC:
		return exit, nil
	case err := <-waitErrC:
		return container.WaitResponse{}, fmt.Errorf("docker: wait after kill: %w", err)
	case <-time.After(dockerStopSlack):
		return container.WaitResponse{}, fmt.Errorf("docker: container %.12s did not stop (stop: %v, kill: %v)", id, stopErr, killErr)
	}
}

// watchPid learns the host PID of the container's init process in the
// background (when want is set), so that a job over its disk can be killed
// without a round trip through the daemon; 0 until known.
func (d *Docker) watchPid(ctx context.Context, id string, want bool) *atomic.Int64 {
	var pid atomic.Int64
	if want {
		go func() {
			ctx, cancel := context.WithTimeout(ctx, dockerCleanupTimeout)
			defer cancel()
			if info, err := d.cli.ContainerInspect(ctx, id); err == nil && info.State != nil && info.State.Running {
				pid.Store(int64(info.State.Pid))
			}
		}()
	}
	return &pid
}

// kill sends SIGKILL to the container at once; the wait that follows sees
// its exit.
func (d *Docker) kill(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), dockerCleanupTimeout)
	defer cancel()
	_ = d.cli.ContainerKill(ctx, id, "SIGKILL")
}

// oomKilled reports the daemon's State.OOMKilled for the exited container.
// The kernel's OOM event can reach the daemon after the exit (seconds
// later on a loaded machine: 250 ms, then 1.5 s, were once not enough), so
// a SIGKILL status (137) the executor did not cause is inspected again,
// backing off from 50 ms, for about 6 s in all. Only such a run waits.
func (d *Docker) oomKilled(id string, status int64, stoppedByUs bool) bool {
	ctx, cancel := context.WithTimeout(context.Background(), dockerCleanupTimeout)
	defer cancel()
	wait := 50 * time.Millisecond
	for attempt := 0; ; attempt++ {
		info, err := d.cli.ContainerInspect(ctx, id)
		if err == nil && info.State != nil && info.State.OOMKilled {
			return true
		}
		if err != nil || stoppedByUs || status != 137 || attempt == 7 {
			return false
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return false
		}
		wait *= 2
	}
}

// remove force-removes the container and its anonymous volumes, with a fresh
// context: it runs whatever happened to the run's. A container already gone
// is not an error.
func (d *Docker) remove(id string) error {
	ctx, cancel := context.WithTimeout(context.Background(), dockerCleanupTimeout)
	defer cancel()
	err := d.cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("docker: remove container %.12s: %w", id, err)
	}
	return nil
}

// failed is what Run returns when a step before the wait fails with err:
// a cancelled or closed run says so in its result, as one stopped later
// does (a cancel can land while the daemon starts a container whose
// program already runs).
func (d *Docker) failed(ctx context.Context, err error) (Result, error) {
	err = d.ctxErr(ctx, err)
	switch {
	case d.base.Err() != nil:
		return Result{ExitCode: ExitCodeAbnormal, Reason: "executor closed"}, err
	case ctx.Err() != nil:
		return Result{ExitCode: ExitCodeAbnormal, Reason: "cancelled"}, err
	}
	return Result{}, err
}

// ctxErr prefers the reason the run was cut short, when it was, to err.
func (d *Docker) ctxErr(ctx context.Context, err error) error {
	switch {
	case d.base.Err() != nil:
		return fmt.Errorf("docker run: %w", ErrClosed)
	case ctx.Err() != nil:
		return fmt.Errorf("docker run: %w (%v)", context.Cause(ctx), err)
	default:
		return err
	}
}
