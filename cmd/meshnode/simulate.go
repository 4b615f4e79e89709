package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/node"
	"go.yaml.in/yaml/v3"
)

// simulatedFile is the `simulated:` section of a start --config file: the
// capacity a provider on a test network declares instead of what it has.
//
//	simulated:
//	  cpus: 64
//	  memory: 512GiB
//	  gpus:
//	    - {model: NVIDIA H100 80GB HBM3, vram: 80GiB, count: 8}
//	  score: {hash_mb_s_per_core: 2000, matmul_gflops: 10}
type simulatedFile struct {
	CPUs   string `yaml:"cpus"`
	Memory string `yaml:"memory"`
	GPUs   []struct {
		Vendor string `yaml:"vendor"`
		Model  string `yaml:"model"`
		VRAM   string `yaml:"vram"`
		Count  int    `yaml:"count"`
	} `yaml:"gpus"`
	Score *struct {
		HashMBps float64 `yaml:"hash_mb_s_per_core"`
		GFLOPS   float64 `yaml:"matmul_gflops"`
	} `yaml:"score"`
}

// readSimulated reads the simulated section of a config file (nil when it
// has none).
func readSimulated(path string) (*node.Simulated, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, usageErr("config: %v", err)
	}
	var doc struct {
		Simulated *simulatedFile `yaml:"simulated"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, usageErr("config %s: simulated: %v", path, err)
	}
	if doc.Simulated == nil {
		return nil, nil
	}
	f := doc.Simulated
	s := &node.Simulated{}
	if f.CPUs != "" {
		if s.CPUMillis, err = job.ParseCPUs(f.CPUs); err != nil {
			return nil, usageErr("config %s: simulated.cpus: %v", path, err)
		}
	}
	if f.Memory != "" {
		if s.MemoryBytes, err = job.ParseSize(f.Memory); err != nil {
			return nil, usageErr("config %s: simulated.memory: %v", path, err)
		}
	}
	for i, g := range f.GPUs {
		spec := fmt.Sprintf("%s:%s:%d:%s", g.Model, g.VRAM, max(g.Count, 1), g.Vendor)
		gpus, err := parseSimulatedGPU(spec)
		if err != nil {
			return nil, usageErr("config %s: simulated.gpus[%d]: %v", path, i, err)
		}
		s.GPUs = append(s.GPUs, gpus...)
	}
	if f.Score != nil {
		s.Score = &job.Score{HashMBps: f.Score.HashMBps, GFLOPS: f.Score.GFLOPS}
	}
	return s, nil
}

// parseSimulatedGPU parses MODEL:VRAM[:COUNT[:VENDOR]], e.g.
// "NVIDIA H100 80GB HBM3:80GiB:8". The vendor defaults to the model's
// first word when it names one (nvidia, amd, intel), else nvidia.
func parseSimulatedGPU(s string) ([]job.GPU, error) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 4 || strings.TrimSpace(parts[0]) == "" {
		return nil, fmt.Errorf("%q: want MODEL:VRAM[:COUNT[:VENDOR]], e.g. \"NVIDIA H100 80GB HBM3:80GiB:8\"", s)
	}
	model := strings.TrimSpace(parts[0])
	vram, err := job.ParseSize(parts[1])
	if err != nil {
		return nil, fmt.Errorf("%q: vram: %w", s, err)
	}
	count := 1
	if len(parts) > 2 && parts[2] != "" {
		if count, err = strconv.Atoi(parts[2]); err != nil || count < 1 || count > job.MaxGPUs {
			return nil, fmt.Errorf("%q: count: want 1 to %d", s, job.MaxGPUs)
		}
	}
	vendor := "nvidia"
	if first := strings.ToLower(strings.Fields(model)[0]); first == "amd" || first == "intel" || first == "nvidia" {
		vendor = first
	}
	if len(parts) > 3 && parts[3] != "" {
		vendor = strings.ToLower(parts[3])
	}
	out := make([]job.GPU, count)
	for i := range out {
		out[i] = job.GPU{Vendor: vendor, Model: model, VRAMBytes: vram}
	}
	return out, nil
}
