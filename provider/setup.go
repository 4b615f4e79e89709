package provider

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/computemesh/computemesh/content"
	"github.com/computemesh/computemesh/executor"
	"github.com/computemesh/computemesh/hwprobe"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/mesh"
	"github.com/computemesh/computemesh/scheduler"
)

// WASMCacheEnv names the environment variable that sets where a provider
// keeps the WASM executor's compiled code when Options.WASMCacheDir is
// empty (it then takes precedence over DataDir/wasm-cache): nodes of one
// owner, or the nodes of one test binary, share one cache and compile a
// module once.
const WASMCacheEnv = "COMPUTEMESH_WASM_CACHE_DIR"

// setup probes the machine, builds the record and the offer, and starts
// the executors.
func (p *Provider) setup(ctx context.Context) error {
	o := &p.opts
	rep := o.Hardware
	if rep == nil {
		var opts []hwprobe.Option
		if o.DataDir != "" {
			opts = append(opts, hwprobe.WithDataDir(o.DataDir))
		}
		r := hwprobe.Probe(ctx, opts...)
		rep = &r
		for _, note := range r.Notes {
			p.log.Infow("probe", "note", note)
		}
	}
	c, err := buildCapacity(o, rep)
	if err != nil {
		return err
	}
	if c.Total.MemoryBytes == 0 {
		return configError{fmt.Errorf("the machine's memory could not be read: set --memory")}
	}
	c.Rates.Floor = o.PriceFloor
	if p.carbon, err = newCarbonSource(o); err != nil {
		return err
	}
	c.Carbon, c.Forecast = p.carbon.declare(o.Now())
	p.record = c
	p.offer = scheduler.Offer{
		Region: o.Region, Rates: c.Rates,
		Executors: c.Executors, Capacity: c.Total, GPUs: c.GPUs,
		MaxJobs: o.MaxJobs, Allow: o.AllowClients, Deny: o.DenyClients,
		QueueLimit: o.Queue, GPURates: o.GPURates, Surge: o.Surge,
		MaxDiskBytes: content.MaxOutputBytes,
	}
	p.reserved = scheduler.NewReservations(c.Total)
	p.reserved.LimitJobs(o.MaxJobs)
	p.modules = mesh.NewBlobCache(512 << 20)
	if err := p.setupExecutors(ctx); err != nil {
		return err
	}
	p.record.Executors = p.executors()
	p.offer.Executors = p.record.Executors
	return nil
}

// setupExecutors starts the WASM executor, and docker and exec when the
// owner enabled them and they work.
func (p *Provider) setupExecutors(ctx context.Context) error {
	o := &p.opts
	p.exec = map[string]executor.Executor{}
	var opts []executor.WASMOption
	switch {
	case o.WASMCacheDir != "":
		opts = append(opts, executor.WithCacheDir(o.WASMCacheDir))
	case os.Getenv(WASMCacheEnv) != "":
		opts = append(opts, executor.WithCacheDir(os.Getenv(WASMCacheEnv)))
	case o.DataDir != "":
		opts = append(opts, executor.WithCacheDir(o.DataDir+"/wasm-cache"))
	}
	wasm, err := executor.NewWASM(opts...)
	if err != nil {
		return fmt.Errorf("starting the WASM executor: %w", err)
	}
	p.exec[job.ExecutorWASM] = wasm
	if slices.Contains(o.Executors, job.ExecutorDocker) {
		p.startDocker(ctx)
	}
	if slices.Contains(o.Executors, job.ExecutorExec) {
		if err := p.startExec(ctx); err != nil {
			p.closeExec()
			return err
		}
	}
	return nil
}

// startExec enables the exec executor when its limits can be enforced.
// Enabled with an allowlist (the node's configuration checks it): a
// command that cannot be resolved is the owner's mistake, worth failing
// the start for.
func (p *Provider) startExec(ctx context.Context) error {
	o := &p.opts
	var opts []executor.ExecOption
	if o.DataDir != "" {
		opts = append(opts, executor.WithExecWorkRoot(filepath.Join(o.DataDir, "exec")))
	}
	opts = append(opts, executor.WithExecUnconfined(o.ExecUnconfined),
		executor.WithExecNetwork(o.AllowJobNetwork), executor.WithExecEnv(o.ExecEnv...))
	e, err := executor.NewExec(o.ExecAllow, opts...)
	if err != nil {
		return configError{err}
	}
	if err := e.Available(ctx); err != nil {
		p.log.Warnw("exec executor: not offered", "err", err)
		_ = e.Close()
		return nil
	}
	p.log.Infow("exec executor", "commands", e.Commands(), "confinement", e.Confinement().String())
	p.exec[job.ExecutorExec], p.cmds = e, e
	p.confinement = e.Confinement().String()
	return nil
}

// closeExec closes every executor the provider started (an executor that
// fails to close has nothing more to give back).
func (p *Provider) closeExec() {
	for _, e := range p.exec {
		_ = e.Close()
	}
}

// startDocker enables the Docker executor when its daemon answers, after
// removing containers a previous run of this node left behind.
func (p *Provider) startDocker(ctx context.Context) {
	o := &p.opts
	owner := "computemesh"
	if o.DataDir != "" {
		owner = o.DataDir
	}
	d, err := executor.NewDocker(executor.WithDockerOwner(owner), executor.WithAllowNetwork(o.AllowJobNetwork), executor.WithAllowPull(o.DockerPull))
	if err != nil {
		p.log.Warnw("docker executor: not offered", "err", err)
		return
	}
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := d.Available(pctx); err != nil {
		p.log.Warnw("docker executor: the daemon does not answer: not offered", "err", err)
		_ = d.Close()
		return
	}
	if o.DataDir != "" {
		if removed, err := d.Janitor(pctx); err != nil {
			p.log.Warnw("docker executor: removing leftovers", "err", err)
		} else if removed > 0 {
			p.log.Infow("docker executor: removed containers left by an earlier run", "count", removed)
		}
	}
	p.exec[job.ExecutorDocker], p.docker = d, d
}

// executors are the executors this provider offers: those the owner
// enabled that work, in a fixed order.
func (p *Provider) executors() []string {
	var out []string
	for _, name := range []string{job.ExecutorWASM, job.ExecutorDocker, job.ExecutorExec} {
		if p.exec[name] != nil {
			out = append(out, name)
		}
	}
	return out
}
