package node

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

func (n *Node) setupProvider(ctx context.Context) error {
	rep := n.cfg.Hardware
	if rep == nil {
		var opts []hwprobe.Option
		if n.cfg.DataDir != "" {
			opts = append(opts, hwprobe.WithDataDir(n.cfg.DataDir))
		}
		r := hwprobe.Probe(ctx, opts...)
		rep = &r
		for _, note := range r.Notes {
			log.Infof("probe: %s", note)
		}
	}
	c, err := n.buildCapacity(rep)
	if err != nil {
		return err
	}
	if c.Total.MemoryBytes == 0 {
		return fmt.Errorf("%w: the machine's memory could not be read: set --memory", ErrConfig)
	}
	n.record = c
	n.offer = scheduler.Offer{
		Region: n.cfg.Region, Rates: n.cfg.Rates,
		Executors: c.Executors, Capacity: c.Total, GPUs: c.GPUs,
	}
	n.reserved = scheduler.NewReservations(c.Total)
	n.reserved.LimitJobs(n.cfg.MaxJobs)
	n.offer.MaxJobs, n.offer.Allow, n.offer.Deny = n.cfg.MaxJobs, n.cfg.AllowClients, n.cfg.DenyClients
	n.offer.QueueLimit = n.cfg.Queue
	n.offer.GPURates, n.offer.Surge = n.cfg.GPURates, n.cfg.Surge
	n.offer.MaxDiskBytes = content.MaxOutputBytes
	n.offer.Rates.Floor = n.cfg.PriceFloor
	n.record.Rates.Floor = n.cfg.PriceFloor
	n.modules = mesh.NewBlobCache(512 << 20)
	n.exec = map[string]executor.Executor{}
	var opts []executor.WASMOption
	switch {
	case n.cfg.WASMCacheDir != "":
		opts = append(opts, executor.WithCacheDir(n.cfg.WASMCacheDir))
	case os.Getenv(WASMCacheEnv) != "":
		opts = append(opts, executor.WithCacheDir(os.Getenv(WASMCacheEnv)))
	case n.cfg.DataDir != "":
		opts = append(opts, executor.WithCacheDir(n.cfg.DataDir+"/wasm-cache"))
	}
	wasm, err := executor.NewWASM(opts...)
	if err != nil {
		return fmt.Errorf("starting the WASM executor: %w", err)
	}
	n.exec[job.ExecutorWASM] = wasm
	if slices.Contains(n.cfg.Executors, job.ExecutorDocker) {
		n.startDocker(ctx)
	}
	if slices.Contains(n.cfg.Executors, job.ExecutorExec) {
		// Enabled with an allowlist (Config.check): a command that cannot
		// be resolved is the owner's mistake, worth failing the start for.
		var opts []executor.ExecOption
		if n.cfg.DataDir != "" {
			opts = append(opts, executor.WithExecWorkRoot(filepath.Join(n.cfg.DataDir, "exec")))
		}
		opts = append(opts, executor.WithExecUnconfined(n.cfg.ExecUnconfined),
			executor.WithExecNetwork(n.cfg.AllowJobNetwork), executor.WithExecEnv(n.cfg.ExecEnv...))
		e, err := executor.NewExec(n.cfg.ExecAllow, opts...)
		if err != nil {
			n.closeExec()
			return fmt.Errorf("%w: %v", ErrConfig, err)
		}
		if err := e.Available(ctx); err != nil {
			log.Warnf("exec executor: %v (not offered)", err)
			_ = e.Close()
		} else {
			log.Infof("exec executor: allowed commands %v; %s", e.Commands(), e.Confinement())
			n.exec[job.ExecutorExec], n.cmds = e, e
			n.execConfinement = e.Confinement().String()
		}
	}
	n.record.Executors = n.executors()
	n.offer.Executors = n.record.Executors
	return nil
}

// closeExec closes every executor the provider started.
func (n *Node) closeExec() {
	for _, e := range n.exec {
		_ = e.Close()
	}
}

// startDocker enables the Docker executor when its daemon answers, after
// removing containers a previous run of this node left behind.
func (n *Node) startDocker(ctx context.Context) {
	owner := "computemesh"
	if n.cfg.DataDir != "" {
		owner = n.cfg.DataDir
	}
	d, err := executor.NewDocker(executor.WithDockerOwner(owner), executor.WithAllowNetwork(n.cfg.AllowJobNetwork), executor.WithAllowPull(n.cfg.DockerPull))
	if err != nil {
		log.Warnf("docker executor: %v (not offered)", err)
		return
	}
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := d.Available(pctx); err != nil {
		log.Warnf("docker executor: the daemon does not answer: %v (not offered)", err)
		_ = d.Close()
		return
	}
	if n.cfg.DataDir != "" {
		if removed, err := d.Janitor(pctx); err != nil {
			log.Warnf("docker executor: removing leftovers: %v", err)
		} else if removed > 0 {
			log.Infof("docker executor: removed %d containers left by an earlier run", removed)
		}
	}
	n.exec[job.ExecutorDocker], n.docker = d, d
}

// executors are the executors this provider offers: those the owner
// enabled that work, in a fixed order.
func (n *Node) executors() []string {
	var out []string
	for _, name := range []string{job.ExecutorWASM, job.ExecutorDocker, job.ExecutorExec} {
		if n.exec[name] != nil {
			out = append(out, name)
		}
	}
	return out
}

// WASMCacheEnv names the environment variable that sets where a provider
// keeps the WASM executor's compiled code when Config.WASMCacheDir is
// empty (it then takes precedence over DataDir/wasm-cache): nodes of one
// owner, or the nodes of one test binary, share one cache and compile a
// module once.
const WASMCacheEnv = "COMPUTEMESH_WASM_CACHE_DIR"
