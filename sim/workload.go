package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/computemesh/computemesh/job"
)

// Job is one job of the stream: who submits it, when, and its spec.
type Job struct {
	Index  int
	ID     string
	Client int
	At     time.Duration // submit time
	Spec   job.Spec
	// Deviation is how far the real run time is from the expected one
	// (a factor, mean 1): the same whichever provider runs it.
	Deviation float64
	// Deadline, when positive, is when the job must have started (its
	// client's --deadline, in virtual time): bids that would start it
	// later are rejected, and a job no round placed ends unscheduled
	// there. MaxWait is a soft bound on its queue wait (a batch's).
	Deadline time.Duration
	MaxWait  time.Duration
	// Data is the size of the job's input (an IPFS input) and Holders the
	// providers that hold it already (locality.go); the others fetch it
	// at Config.DataBandwidth before the job runs. 0: no input.
	Data    int64
	Holders map[int]bool
}

// Workload describes the job stream.
type Workload struct {
	Jobs int
	Load float64 // offered work / capacity, for CPUs and GPUs alike
	// Policy is the policy of every job, or "mixed": 40% latency, 30%
	// cost, 30% balanced.
	Policy string
	Seed   uint64
}

// Policies a workload may ask for.
const PolicyMixed = "mixed"

// ValidPolicy reports whether p is a workload policy.
func ValidPolicy(p string) bool {
	switch p {
	case PolicyMixed, job.PolicyCost, job.PolicyLatency, job.PolicyBalanced:
		return true
	}
	return false
}

// Job size distributions: cores of a CPU job, GPUs of a GPU job, with
// their weights.
func cpuSizes() ([]int64, []float64) {
	return []int64{1, 2, 4, 8, 16}, []float64{0.35, 0.25, 0.2, 0.12, 0.08}
}

func gpuSizes() ([]int, []float64) { return []int{1, 2, 4}, []float64{0.6, 0.3, 0.1} }

const (
	cpuMedian = 60 * time.Second
	gpuMedian = 120 * time.Second
	runSigma  = 1.0 // of the expected run time's log
	devSigma  = 0.3 // of the deviation's log
	gpuCores  = 4   // CPU cores a GPU job asks for
	minRun    = 5 * time.Second
	maxRun    = 30 * time.Minute
)

// meanWork estimates the mean reference work of one CPU job (core-seconds),
// one GPU job's GPU-seconds and its CPU core-seconds.
func meanWork() (cpu, gpu, gpuCPU float64) {
	mean := func(median time.Duration) float64 { return median.Seconds() * math.Exp(runSigma*runSigma/2) }
	cpuCores, cpuWeights := cpuSizes()
	gpuCounts, gpuWeights := gpuSizes()
	cores, gpus := 0.0, 0.0
	for i, c := range cpuCores {
		cores += float64(c) * cpuWeights[i]
	}
	for i, g := range gpuCounts {
		gpus += float64(g) * gpuWeights[i]
	}
	return cores * mean(cpuMedian), gpus * mean(gpuMedian), gpuCores * mean(gpuMedian)
}

// Stream draws the job stream: Poisson arrivals at the rates that offer
// w.Load of the mesh's CPU and GPU capacity, from clients in their cities.
// A region constraint keeps a job in its client's continent (20% of jobs)
// or out of the us-* regions (5%, EU clients), but only when some provider
// can serve it there.
func Stream(m *Mesh, w Workload) ([]Job, error) {
	if !ValidPolicy(w.Policy) {
		return nil, fmt.Errorf("policy: %q is not mixed, cost, latency or balanced", w.Policy)
	}
	if w.Load <= 0 || w.Load > 2 {
		return nil, fmt.Errorf("load: %g is out of range (0 to 2]", w.Load)
	}
	if len(m.Clients) == 0 || len(m.Providers) == 0 {
		return nil, fmt.Errorf("mesh: no clients or no providers")
	}
	r := rand.New(rand.NewPCG(w.Seed, 0x6a6f6273))
	capCPU, capGPU := m.Capacity()
	wCPU, wGPU, wGPUCPU := meanWork()
	rateGPU := w.Load * capGPU / wGPU
	rateCPU := max(0, (w.Load*capCPU-rateGPU*wGPUCPU)/wCPU)
	rate := rateCPU + rateGPU
	if rate <= 0 {
		return nil, fmt.Errorf("load: the mesh has no capacity")
	}
	gpuShare := rateGPU / rate
	lognormal := func(median time.Duration, sigma float64) time.Duration {
		return time.Duration(float64(median) * math.Exp(sigma*r.NormFloat64()))
	}
	cpuCores, cpuWeights := cpuSizes()
	gpuCounts, gpuWeights := gpuSizes()
	jobs := make([]Job, 0, w.Jobs)
	var t time.Duration
	for i := range w.Jobs {
		t += time.Duration(r.ExpFloat64() / rate * float64(time.Second))
		j := Job{Index: i, ID: fmt.Sprintf("j%06d", i), Client: r.IntN(len(m.Clients)), At: t}
		s := &j.Spec
		s.Name = "sim"
		if r.Float64() < gpuShare {
			s.Executor, s.Image = job.ExecutorDocker, "sim/gpu"
			s.Resources = job.Resources{CPUMillis: gpuCores * 1000, MemoryBytes: gpuCores * 2 << 30, GPUs: gpuCounts[pick(r, gpuWeights...)]}
			switch pick(r, 0.4, 0.3, 0.3) {
			case 1:
				s.Resources.GPUModel = "h100"
			case 2:
				s.Resources.GPUVRAMBytes = 40 << 30
			}
			s.ExpectedMS = clamp(lognormal(gpuMedian, runSigma)).Milliseconds()
		} else {
			s.Executor, s.Module = job.ExecutorWASM, "sim"
			c := cpuCores[pick(r, cpuWeights...)]
			s.Resources = job.Resources{CPUMillis: c * 1000, MemoryBytes: uint64(c) * 2 << 30}
			s.ExpectedMS = clamp(lognormal(cpuMedian, runSigma)).Milliseconds()
		}
		// The timeout leaves room for the slowest provider and a long run.
		s.TimeoutMS = 6*s.ExpectedMS + 30_000
		s.Policy = w.Policy
		if w.Policy == PolicyMixed {
			s.Policy = []string{job.PolicyLatency, job.PolicyCost, job.PolicyBalanced}[pick(r, 0.4, 0.3, 0.3)]
		}
		home := m.Topo.Cities[m.Clients[j.Client].City].Region
		switch x := r.Float64(); {
		case x < 0.20:
			s.Region = strings.SplitN(home, "-", 2)[0] + "-*"
		case x < 0.25 && strings.HasPrefix(home, "eu-"):
			s.NotRegions = []string{"us-*"}
		}
		if (s.Region != "" || s.NotRegions != nil) && len(m.Candidates(s)) == 0 {
			s.Region, s.NotRegions = "", nil
		}
		// A small mesh may have no provider for a GPU job as drawn: ask for
		// any model, then for one GPU.
		if len(m.Candidates(s)) == 0 && s.Resources.GPUs > 0 {
			s.Resources.GPUModel, s.Resources.GPUVRAMBytes = "", 0
			if len(m.Candidates(s)) == 0 {
				s.Resources.GPUs = 1
			}
		}
		if len(m.Candidates(s)) == 0 {
			return nil, fmt.Errorf("job %d: no provider of the mesh can serve %s", i, s.Resources)
		}
		j.Deviation = math.Exp(devSigma*r.NormFloat64() - devSigma*devSigma/2)
		jobs = append(jobs, j)
	}
	return jobs, nil
}

func clamp(d time.Duration) time.Duration { return min(max(d, minRun), maxRun) }
