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
	var files []*os.File // the parent's ends, closed at the end
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	pipe := func() (r, w *os.File, err error) {
		if r, w, err = os.Pipe(); err == nil {
			files = append(files, r, w)
		}
		return r, w, err
	}
	outR, outW, err := pipe()
	if err != nil {
		return Result{}, fmt.Errorf("exec: %w", err)
	}
	errR, errW, err := pipe()
	if err != nil {
		return Result{}, fmt.Errorf("exec: %w", err)
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	var inW *os.File
	if len(t.Stdin) > 0 {
		var inR *os.File
		if inR, inW, err = pipe(); err != nil {
			return Result{}, fmt.Errorf("exec: %w", err)
		}
		cmd.Stdin = inR
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
	// The child holds its ends now.
	outW.Close()
	errW.Close()
	if r, ok := cmd.Stdin.(*os.File); ok {
		r.Close()
	}

	var copies sync.WaitGroup
	copies.Go(func() { _, _ = io.Copy(tee(stdout, logs), outR) })
	copies.Go(func() { _, _ = io.Copy(tee(stderr, logs), errR) })
	stdinDone := make(chan struct{})
	if inW != nil {
		go func() {
			defer close(stdinDone)
			_, _ = inW.Write(t.Stdin)
			_ = inW.Close() // EOF for the command
		}()
	} else {
		close(stdinDone)
	}

	exited := make(chan struct{})
	go func() {
		defer close(exited)
		waitExited(pid)
	}()
	timer := time.NewTimer(t.Timeout)
	defer timer.Stop()
	disk := watchDisk(t)
	defer disk.Stop()
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
	duration := time.Since(start)
	// The exited leader is not reaped yet, so its process group ID cannot
	// have been reused: kill what it left running in its group.
	signalGroup(pid, true)
	waitErr := cmd.Wait()

	// The pipes close once every process holding them is gone; one that
	// left the group may keep them open, so the wait is bounded.
	drained := make(chan struct{})
	go func() { copies.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(execDrainTimeout):
		outR.Close()
		errR.Close()
		<-drained
	}
	if inW != nil {
		inW.Close() // a write nobody reads (a process that left the group) ends
	}
	<-stdinDone // t.Stdin is not read after Run returns

	if msg := status.wait(); msg != "" {
		// The helper failed before the command ran.
		return Result{}, fmt.Errorf("exec: start %s: %s", t.Command, msg)
	}
	ps := cmd.ProcessState
	var exitErr *exec.ExitError
	if ps == nil || (waitErr != nil && !errors.As(waitErr, &exitErr)) {
		return Result{}, fmt.Errorf("exec: wait for %s: %v", t.Command, waitErr)
	}
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
