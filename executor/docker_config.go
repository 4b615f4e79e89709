package executor

import (
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
)

// applyDockerDefaults fills t's zero fields.
func applyDockerDefaults(t *Task) {
	if t.Timeout == 0 {
		t.Timeout = DefaultTimeout
	}
	if t.CPUMillis == 0 {
		t.CPUMillis = DefaultDockerCPUMillis
	}
	if t.MemoryBytes == 0 {
		t.MemoryBytes = DefaultMemoryBytes
	}
	if t.MaxOutput == 0 {
		t.MaxOutput = DefaultMaxOutput
	}
}

// graceSeconds is the stop grace in whole seconds, rounded up.
func (d *Docker) graceSeconds() int {
	return int((d.cfg.stopGrace + time.Second - 1) / time.Second)
}

// containerConfig is the locked-down container for t.
func (d *Docker) containerConfig(t *Task, runID string) (*container.Config, *container.HostConfig) {
	labels := map[string]string{DockerJobLabel: "1", DockerRunLabel: runID}
	if d.cfg.owner != "" {
		labels[DockerOwnerLabel] = d.cfg.owner
	}
	env := make([]string, 0, len(t.Env))
	for _, k := range slices.Sorted(maps.Keys(t.Env)) {
		env = append(env, k+"="+t.Env[k])
	}
	hasStdin := len(t.Stdin) > 0
	network := t.Network && d.cfg.allowNetwork
	grace := d.graceSeconds()
	cfg := &container.Config{
		Image:           t.Image,
		Cmd:             t.Args,
		Env:             env,
		User:            d.cfg.user,
		Labels:          labels,
		AttachStdin:     hasStdin,
		AttachStdout:    true,
		AttachStderr:    true,
		OpenStdin:       hasStdin,
		StdinOnce:       hasStdin,
		NetworkDisabled: !network,
		StopTimeout:     &grace,
	}
	if len(t.Entrypoint) > 0 {
		cfg.Entrypoint = t.Entrypoint
	}
	pids := int64(DockerPidsLimit)
	hostCfg := &container.HostConfig{
		NetworkMode:    "none",
		ReadonlyRootfs: true,
		Tmpfs:          map[string]string{"/tmp": "rw,noexec,nosuid,nodev,size=" + strconv.Itoa(DockerTmpfsBytes)},
		CapDrop:        []string{"ALL"},
		SecurityOpt:    []string{"no-new-privileges"},
		IpcMode:        "private",
		LogConfig:      container.LogConfig{Type: "none"},
		Resources: container.Resources{
			NanoCPUs:   t.CPUMillis * 1e6,
			Memory:     int64(t.MemoryBytes),
			MemorySwap: int64(t.MemoryBytes), // equal to Memory: no swap, a real limit
			PidsLimit:  &pids,
			Ulimits: []*container.Ulimit{
				{Name: "nofile", Soft: 1024, Hard: 1024},
				{Name: "core", Soft: 0, Hard: 0},
			},
		},
	}
	if t.OutputsDir != "" && t.DiskBytes > 0 {
		// In bytes, as setrlimit takes it.
		fsize := int64(fileSizeLimit(t.DiskBytes))
		hostCfg.Resources.Ulimits = append(hostCfg.Resources.Ulimits,
			&container.Ulimit{Name: "fsize", Soft: fsize, Hard: fsize})
	}
	if network {
		hostCfg.NetworkMode = "default"
	}
	if t.GPUs > 0 {
		hostCfg.DeviceRequests = []container.DeviceRequest{{
			Driver:       "nvidia",
			Count:        t.GPUs,
			Capabilities: [][]string{{"gpu"}},
		}}
	}
	if t.InputsDir != "" {
		hostCfg.Mounts = append(hostCfg.Mounts, mount.Mount{
			Type: mount.TypeBind, Source: t.InputsDir, Target: DockerInputsPath, ReadOnly: true,
		})
	}
	if t.OutputsDir != "" {
		hostCfg.Mounts = append(hostCfg.Mounts, mount.Mount{
			Type: mount.TypeBind, Source: t.OutputsDir, Target: DockerOutputsPath,
		})
	}
	return cfg, hostCfg
}
