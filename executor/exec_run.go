package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"
)

// run starts t's command in work and waits for it.
func (e *Exec) run(ctx, opCtx context.Context, work string, t *Task) (Result, error) {
	lims, cpuLimit := limits(t)
	cmd, status, err := e.command(t, work, lims)
	if err != nil {
		return Result{}, err
	}
	defer status.close()

	// Pipes of our own: the process's exit, not the end of its output,
	// ends the run, and what it left running cannot hold Wait.
	x := &execIO{}
	defer x.close()
	if err := x.open(cmd, len(t.Stdin) > 0); err != nil {
		return Result{}, fmt.Errorf("exec: %w", err)
	}
	stdout := newCappedWriter(t.MaxOutput)
	stderr := newCappedWriter(t.MaxOutput, execOOMMarkers...)
	var logs io.Writer
	if t.Logs != nil {
		logs = &syncLogs{w: t.Logs}
	}

	start := time.Now()
	if err := cmd.Start(); err != nil {
		return Result{}, fmt.Errorf("exec: start %s: %w", t.Command, err)
	}
	pid := cmd.Process.Pid
	status.started()
	x.started(cmd, tee(stdout, logs), tee(stderr, logs), t.Stdin)

	disk := watchDisk(t)
	defer disk.Stop()
	stopped := e.await(opCtx, pid, t.Timeout, disk)
	duration := time.Since(start)
	// The exited leader is not reaped yet, so its process group ID cannot
	// have been reused: kill what it left running in its group.
	signalGroup(pid, true)
	waitErr := cmd.Wait()
	x.drain()

	if msg := status.wait(); msg != "" {
		// The helper failed before the command ran.
		return Result{}, fmt.Errorf("exec: start %s: %s", t.Command, msg)
	}
	ps := cmd.ProcessState
	var exitErr *exec.ExitError
	if ps == nil || (waitErr != nil && !errors.As(waitErr, &exitErr)) {
		return Result{}, fmt.Errorf("exec: wait for %s: %v", t.Command, waitErr)
	}
	res := execResult(ps, stdout, stderr, duration, t, cpuLimit)
	return finishExec(ctx, res, stopped, disk, stderr, t)
}

// await waits for the command's process (pid) to exit, stopping it on
// timeout, when it fills its disk or when opCtx ends; it returns why the
// executor stopped it ("timeout", "disk", "cancelled", "closed") or "".
func (e *Exec) await(opCtx context.Context, pid int, timeout time.Duration, disk *diskWatch) string {
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		waitExited(pid)
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	stopped := "" // why the executor stopped the command, if it did
	select {
	case <-exited:
	case <-timer.C:
		stopped = "timeout"
	case <-disk.Over():
		stopped = "disk"
		signalGroup(pid, true) // no grace: it would write on
	case <-opCtx.Done():
		stopped = "cancelled"
		if e.base.Err() != nil {
			stopped = "closed"
		}
	}
	if stopped != "" {
		signalGroup(pid, false)
		grace := time.NewTimer(e.cfg.stopGrace)
		select {
		case <-exited:
		case <-grace.C:
			signalGroup(pid, true)
			<-exited
		}
		grace.Stop()
	}
	return stopped
}

// execResult is what the exited command's state says: exit code, output,
// usage and, when a signal killed it, why.
func execResult(ps *os.ProcessState, stdout, stderr *cappedWriter, duration time.Duration, t *Task, cpuLimit uint64) Result {
	res := Result{
		ExitCode:        ps.ExitCode(),
		Stdout:          stdout.Bytes(),
		Stderr:          stderr.Bytes(),
		StdoutTruncated: stdout.Truncated(),
		StderrTruncated: stderr.Truncated(),
		Duration:        duration,
		CPUSeconds:      cpuSeconds(ps),
		PeakMemoryBytes: peakRSS(ps),
		GPUSeconds:      float64(t.GPUs) * duration.Seconds(),
	}
	if sig, cpuKill, ok := signaled(ps); ok {
		res.ExitCode = ExitCodeAbnormal
		res.Reason = "killed by signal: " + sig
		if cpuKill && res.CPUSeconds >= float64(cpuLimit)-0.5 {
			res.Reason = fmt.Sprintf("CPU time limit exceeded (%d s: %g cores for %v)",
				cpuLimit, float64(t.CPUMillis)/1000, t.Timeout)
		}
	}
	return res
}

// finishExec completes res with why the executor stopped the command, if it
// did, with outputs found over a bound once it ended, or with running out
// of memory.
func finishExec(ctx context.Context, res Result, stopped string, disk *diskWatch, stderr *cappedWriter, t *Task) (Result, error) {
	disk.Stop()
	if stopped == "" && disk.Check() {
		stopped = "disk" // over a bound since the last scan
	}
	switch stopped {
	case "timeout":
		res.ExitCode, res.TimedOut = ExitCodeAbnormal, true
		res.Reason = fmt.Sprintf("timed out after %v", t.Timeout)
		return res, nil
	case "disk":
		res.ExitCode, res.DiskExceeded, res.Reason = ExitCodeAbnormal, true, disk.Reason()
		return res, nil
	case "cancelled":
		res.ExitCode, res.Reason = ExitCodeAbnormal, "cancelled"
		return res, fmt.Errorf("exec run: %w", context.Cause(ctx))
	case "closed":
		res.ExitCode, res.Reason = ExitCodeAbnormal, "executor closed"
		return res, fmt.Errorf("exec run: %w", ErrClosed)
	}
	if res.ExitCode != 0 && stderr.Seen() {
		res.MemoryExceeded = true
		if res.Reason == "" {
			res.Reason = fmt.Sprintf("out of memory (address-space limit %d bytes)", t.MemoryBytes)
		}
	}
	return res, nil
}

// execIO is a command's stdin, stdout and stderr: pipes of our own, copied
// by goroutines.
type execIO struct {
	files      []*os.File // the parent's ends, closed at the end
	outR, outW *os.File
	errR, errW *os.File
	inW        *os.File // nil without stdin

	copies    sync.WaitGroup
	stdinDone chan struct{}
}

func (x *execIO) pipe() (r, w *os.File, err error) {
	if r, w, err = os.Pipe(); err == nil {
		x.files = append(x.files, r, w)
	}
	return r, w, err
}

// open makes the pipes and hands the command its ends.
func (x *execIO) open(cmd *exec.Cmd, stdin bool) error {
	var err error
	if x.outR, x.outW, err = x.pipe(); err != nil {
		return err
	}
	if x.errR, x.errW, err = x.pipe(); err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = x.outW, x.errW
	if stdin {
		var inR *os.File
		if inR, x.inW, err = x.pipe(); err != nil {
			return err
		}
		cmd.Stdin = inR
	}
	return nil
}

// started closes the ends the started command holds now, and starts
// copying its output and writing its stdin.
func (x *execIO) started(cmd *exec.Cmd, stdout, stderr io.Writer, stdin []byte) {
	// The child holds its ends now.
	x.outW.Close()
	x.errW.Close()
	if r, ok := cmd.Stdin.(*os.File); ok {
		r.Close()
	}
	x.copies.Go(func() { _, _ = io.Copy(stdout, x.outR) })
	x.copies.Go(func() { _, _ = io.Copy(stderr, x.errR) })
	x.stdinDone = make(chan struct{})
	if x.inW != nil {
		go func() {
			defer close(x.stdinDone)
			_, _ = x.inW.Write(stdin)
			_ = x.inW.Close() // EOF for the command
		}()
	} else {
		close(x.stdinDone)
	}
}

// drain waits for the output copies and the stdin writer to end.
func (x *execIO) drain() {
	// The pipes close once every process holding them is gone; one that
	// left the group may keep them open, so the wait is bounded.
	drained := make(chan struct{})
	go func() { x.copies.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(execDrainTimeout):
		x.outR.Close()
		x.errR.Close()
		<-drained
	}
	if x.inW != nil {
		x.inW.Close() // a write nobody reads (a process that left the group) ends
	}
	<-x.stdinDone // t.Stdin is not read after Run returns
}

func (x *execIO) close() {
	for _, f := range x.files {
		f.Close()
	}
}

// syncLogs forwards to a task's Logs writer, one write at a time (stdout and
// stderr are copied by two goroutines), until its first error; it never
// fails, so the command's output is not disturbed.
type syncLogs struct {
	mu     sync.Mutex
	w      io.Writer
	failed bool
}

func (l *syncLogs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.failed {
		if _, err := l.w.Write(p); err != nil {
			l.failed = true
		}
	}
	return len(p), nil
}

// removeWorkDir removes a run's work directory, first giving back the
// permissions a command may have taken from its directories. It never
// follows a symbolic link.
func removeWorkDir(dir string) error {
	if err := os.RemoveAll(dir); err == nil {
		return nil
	}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	return os.RemoveAll(dir)
}
