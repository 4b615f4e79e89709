package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/scheduler"
)

// gpuModel is a simulated GPU model with its typical hourly rate.
type gpuModel struct {
	name  string
	vram  uint64
	hour  float64 // credits per GPU-hour
	share float64 // share of GPU providers
}

func gpuCatalog() []gpuModel {
	return []gpuModel{
		{"NVIDIA H100 80GB HBM3", 80 << 30, 2.5, 0.2},
		{"NVIDIA A100-SXM4-40GB", 40 << 30, 1.4, 0.3},
		{"NVIDIA L4", 24 << 30, 0.6, 0.3},
		{"NVIDIA GeForce RTX 4090", 24 << 30, 0.5, 0.2},
	}
}

// regionPrice is how a region's prices compare with the mean.
func regionPrice(region string) float64 {
	switch region {
	case "us-east":
		return 1.10
	case "us-west":
		return 1.15
	case "eu-west":
		return 1.05
	case "eu-central":
		return 1.00
	case "sa-east":
		return 0.90
	case "af-south":
		return 0.85
	}
	return 0.95
}

// Provider is one simulated provider: its offer as scheduler.Admit sees
// it, its capacity record, the city it lives in.
type Provider struct {
	ID     string
	City   int
	Offer  scheduler.Offer
	Record job.Capacity
}

// Client is one simulated client: it lives in a city.
type Client struct {
	ID   string
	City int
}

// Mesh is the simulated network's nodes.
type Mesh struct {
	Topo      *Topology
	Providers []Provider
	Clients   []Client
}

// pick returns an index drawn with the given weights.
func pick(r *rand.Rand, weights ...float64) int {
	sum := 0.0
	for _, w := range weights {
		sum += w
	}
	x := r.Float64() * sum
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return len(weights) - 1
}

func credits(c float64) job.Credits { return job.Credits(math.Round(c * float64(job.Nano))) }

// NewMesh places providers and clients in random cities of topo and gives
// each provider random hardware and prices, drawn from seed.
func NewMesh(topo *Topology, providers, clients int, seed uint64) *Mesh {
	r := rand.New(rand.NewPCG(seed, 0x6d657368))
	m := &Mesh{Topo: topo}
	gpus := gpuCatalog()
	gpuShares := make([]float64, len(gpus))
	for i, g := range gpus {
		gpuShares[i] = g.share
	}
	for i := range providers {
		city := r.IntN(len(topo.Cities))
		region := topo.Cities[city].Region
		cores := []int{4, 8, 16, 32, 64}[pick(r, 0.2, 0.3, 0.25, 0.15, 0.1)]
		hash := 500 + r.Float64()*1500 // per core; the reference machine is 1000
		rates := job.Rates{CPUHour: credits(0.03 * math.Pow(hash/job.ReferenceHashMBps, 0.8) * regionPrice(region) * (0.7 + 0.6*r.Float64()))}
		p := Provider{ID: fmt.Sprintf("p%03d", i), City: city}
		total := job.Resources{CPUMillis: int64(cores) * 1000, MemoryBytes: uint64(cores) * 4 << 30}
		var cards []job.GPU
		if r.Float64() < 0.25 {
			g := gpus[pick(r, gpuShares...)]
			n := []int{1, 2, 4, 8}[pick(r, 0.3, 0.3, 0.25, 0.15)]
			for range n {
				cards = append(cards, job.GPU{Vendor: "nvidia", Model: g.name, VRAMBytes: g.vram})
			}
			total.GPUs = n
			rates.GPUHour = credits(g.hour * regionPrice(region) * (0.8 + 0.4*r.Float64()))
		}
		execs := []string{job.ExecutorWASM, job.ExecutorDocker}
		p.Offer = scheduler.Offer{Region: region, Rates: rates, Executors: execs, Capacity: total, GPUs: cards}
		p.Record = job.Capacity{
			V: job.Version, Peer: p.ID, Network: "sim", Region: region, Executors: execs, Rates: rates,
			CPU: job.CPUInfo{Cores: cores, Threads: cores}, Memory: total.MemoryBytes, GPUs: cards,
			Total: total, Free: total, Score: job.Score{HashMBps: hash}, Simulated: true,
		}
		m.Providers = append(m.Providers, p)
	}
	for i := range clients {
		m.Clients = append(m.Clients, Client{ID: fmt.Sprintf("c%03d", i), City: r.IntN(len(topo.Cities))})
	}
	return m
}

// Candidates returns the providers whose capacity record can serve the
// job (hardware, executor, region, not-regions): those a client's look-up
// of capability records finds and whose answers it waits for.
func (m *Mesh) Candidates(s *job.Spec) []int {
	need := s.Resources.Need()
	need.Executor = s.Executor
	var out []int
	for i := range m.Providers {
		rec := &m.Providers[i].Record
		if rec.Mismatch(need) == "" && s.RegionAllowed(rec.Region) {
			out = append(out, i)
		}
	}
	return out
}

// Capacity is the mesh's capacity in reference-machine seconds of work per
// second: CPU cores and GPUs, each weighted by its provider's speed.
func (m *Mesh) Capacity() (cpu, gpu float64) {
	for i := range m.Providers {
		p := &m.Providers[i]
		speed := p.Record.Score.HashMBps / job.ReferenceHashMBps
		cpu += float64(p.Record.Total.CPUMillis) / 1000 * speed
		gpu += float64(p.Record.Total.GPUs) * speed
	}
	return cpu, gpu
}

// RunTime is how long a job really runs on provider p: the scheduler's
// estimate (its expected time scaled by p's benchmark score) times the
// job's own deviation from its expectation, which no scheduler but the
// omniscient one knows.
func (m *Mesh) RunTime(j *Job, p int) time.Duration {
	est := scheduler.RunEstimate(&j.Spec, m.Providers[p].Record.Score)
	return max(time.Millisecond, time.Duration(float64(est)*j.Deviation))
}

// regionsOf lists the distinct regions of the providers, sorted.
func (m *Mesh) regionsOf() []string {
	var rs []string
	for i := range m.Providers {
		rs = append(rs, m.Providers[i].Offer.Region)
	}
	slices.Sort(rs)
	return slices.Compact(rs)
}
