package provider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"sync"
	"time"

	"github.com/computemesh/computemesh/content"
	"github.com/computemesh/computemesh/executor"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/market"
	"github.com/libp2p/go-libp2p/core/peer"
)

// run runs an awarded job: its work directories, its inputs staged from
// the client, the task on its executor with the live log, its outputs
// collected and granted to the client alone; the result carries the
// charge at the bid's rates.
func (p *Provider) run(ctx context.Context, a *job.Award, client peer.ID, rates job.Rates, logs io.Writer) *job.Result {
	res := &job.Result{Job: a.Job, Provider: p.selfID, ExitCode: -1}
	ex := p.exec[a.Spec.Executor]
	if ex == nil {
		res.Error = fmt.Sprintf("this provider does not run %s jobs", a.Spec.Executor)
		return res
	}
	ctx, cancel := context.WithTimeout(ctx, a.Spec.Timeout()+time.Minute)
	defer cancel()
	inDir, outDir, cleanup, err := p.dirs.take(a.Spec.Executor == job.ExecutorWASM)
	if err != nil {
		res.Error = "work directory: " + err.Error()
		return res
	}
	defer cleanup()
	if err := p.content.StageInputs(ctx, client, a.Spec.Inputs, inDir); err != nil {
		res.Error = "fetching inputs: " + err.Error()
		return res
	}
	env := a.Spec.Env
	if len(a.Secrets) > 0 {
		env = maps.Clone(env)
		if env == nil {
			env = map[string]string{}
		}
		maps.Copy(env, a.Secrets)
	}
	r, err := p.runTask(ctx, ex, a, client, env, inDir, outDir, logs)
	if err != nil {
		switch {
		case p.ctx.Err() != nil:
			res.Error = "cancelled: the provider is shutting down"
		case ctx.Err() != nil:
			res.Error = "cancelled: the client went away"
		default:
			res.Error = err.Error()
		}
		return res
	}
	var outputs string
	var blobs []string
	if !r.DiskExceeded { // stopped for its outputs: they are not kept
		outputs, blobs, err = p.content.CollectOutputs(ctx, outDir, a.Spec.Resources.DiskBytes)
	}
	switch {
	case errors.Is(err, content.ErrOutputsOverLimit):
		r.DiskExceeded, r.Reason = true, err.Error() // charged for its time, outputs dropped
	case err != nil:
		res.Error = "collecting outputs: " + err.Error()
		return res
	}
	if outputs != "" {
		res.Outputs = outputs
		until := p.now().Add(content.OutputsGrantFor(len(blobs)))
		p.content.Grant(client, until, blobs...) // the client alone may fetch them
		p.content.Hold(until, blobs...)          // and then they go
		if a.Spec.Publish && p.publishOutputs != nil {
			p.publishOutputs(outputs, blobs) // and anyone may, while they are here
		}
	}
	res.ExitCode = r.ExitCode
	res.Stdout, res.Stderr = truncated(r.Stdout, r.StdoutTruncated), truncated(r.Stderr, r.StderrTruncated)
	res.StdoutTruncated, res.StderrTruncated = r.StdoutTruncated, r.StderrTruncated
	res.TimedOut, res.MemoryExceeded, res.DiskExceeded = r.TimedOut, r.MemoryExceeded, r.DiskExceeded
	res.RunMS = float64(r.Duration) / float64(time.Millisecond)
	res.CPUSeconds, res.GPUSeconds, res.PeakMemoryBytes = r.CPUSeconds, r.GPUSeconds, r.PeakMemoryBytes
	charge, err := market.Charge(rates, a.Spec.Resources, a.Spec.Timeout(), r.Duration)
	if err != nil {
		res.Error = "metering: " + err.Error()
		return res
	}
	res.Charge = market.Scale(charge, a.Bid.Price, a.Pay)
	p.log.Infow("ran a job", "job", a.Job, "attempt", a.Attempt, "client", client, "executor", a.Spec.Executor,
		"exit_code", r.ExitCode, "run_ms", res.RunMS, "cpu_s", r.CPUSeconds, "gpu_s", r.GPUSeconds, "charge", charge)
	return res
}

// truncated appends a marker to output that was cut at its cap.
func truncated(b []byte, cut bool) []byte {
	if !cut {
		return b
	}
	return append(b, fmt.Sprintf("\n[computemesh: output truncated at %d bytes]\n", len(b))...)
}

// runTask runs an awarded job on ex: it builds the executor's Task from the
// spec (fetching a wasm module by CID from the client unless cached),
// validates it, and runs it.
func (p *Provider) runTask(ctx context.Context, ex executor.Executor, a *job.Award, client peer.ID, env map[string]string, inDir, outDir string, logs io.Writer) (executor.Result, error) {
	t := executor.Task{
		Args: a.Spec.Args, Env: env, Stdin: a.Spec.Stdin, Timeout: a.Spec.Timeout(),
		MemoryBytes: a.Spec.Resources.MemoryBytes, InputsDir: inDir, OutputsDir: outDir, Logs: logs,
		DiskBytes: uint64(content.OutputLimit(a.Spec.Resources.DiskBytes)), MaxFiles: content.MaxOutputFiles,
	}
	gpus := a.Spec.Resources.GPUs
	if p.record.Simulated {
		gpus = 0 // simulated GPUs: the job runs without a device
	}
	switch a.Spec.Executor {
	case job.ExecutorWASM:
		module, ok := p.modules.Get(a.Spec.Module)
		if !ok {
			var err error
			module, err = p.mesh.FetchBlob(ctx, client, a.Spec.Module, 0)
			if err != nil {
				return executor.Result{}, fmt.Errorf("fetching module: %w", err)
			}
			p.modules.Put(a.Spec.Module, module, false)
		}
		t.Name, t.Module, t.ModuleKey, t.Deterministic = a.Spec.Name, module, a.Spec.Module, a.Spec.Deterministic
	case job.ExecutorDocker:
		t.Image, t.CPUMillis, t.GPUs, t.Network = a.Spec.Image, a.Spec.Resources.CPUMillis, gpus, a.Spec.Network
		// The container runs as nobody: let it write the outputs directory.
		_ = os.Chmod(outDir, 0o777)
		_ = os.Chmod(inDir, 0o755)
	case job.ExecutorExec:
		// The command runs as this node's user (confined to these
		// directories): they need no other permissions.
		t.Command, t.CPUMillis, t.GPUs, t.Network = a.Spec.Command, a.Spec.Resources.CPUMillis, gpus, a.Spec.Network
	default:
		return executor.Result{}, fmt.Errorf("this provider does not run %s jobs", a.Spec.Executor)
	}
	if err := ex.Validate(ctx, t); err != nil {
		return executor.Result{}, err
	}
	return ex.Run(ctx, t)
}

// runTimes is a moving mean of recent run times: a queued bid's wait
// estimate.
type runTimes struct {
	mu  sync.Mutex
	avg time.Duration
}

func (r *runTimes) add(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.avg == 0 {
		r.avg = d
		return
	}
	r.avg += (d - r.avg) / 8
}

func (r *runTimes) mean() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.avg
}
