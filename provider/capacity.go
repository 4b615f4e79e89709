package provider

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/computemesh/computemesh/hwprobe"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/mesh"
)

// DefaultRecordTTL is how long a provider's capacity record is valid; it is
// re-signed and stored again at a third of that, and when what is free
// changes.
const DefaultRecordTTL = 10 * time.Minute

// Simulated declares capacity a provider does not have: test networks only
// (network names starting with "test", and "devnet"). The record says so.
type Simulated struct {
	CPUMillis   int64      `yaml:"cpus"`
	MemoryBytes uint64     `yaml:"memory"`
	GPUs        []job.GPU  `yaml:"gpus"`
	Score       *job.Score `yaml:"score"`
}

// SimulationAllowed reports whether a network may carry simulated capacity.
func SimulationAllowed(network string) bool {
	return network == "devnet" || strings.HasPrefix(network, "test")
}

// Record is the capacity record a provider with these options would
// publish on a machine with rep (unsigned, without peer, sequence or
// expiry): what it offers at once, its GPUs, executors, rates and score.
func Record(o Options, rep *hwprobe.Report) (job.Capacity, error) {
	o.defaults()
	c, err := buildCapacity(&o, rep)
	c.Rates.Floor = o.PriceFloor
	return c, err
}

// buildCapacity turns what the machine has (and what the options declare
// or limit) into the provider's record.
func buildCapacity(o *Options, rep *hwprobe.Report) (job.Capacity, error) {
	c := job.Capacity{
		V: job.Version, Network: o.Network, Region: o.Region,
		Executors: slices.Clone(rep.Executors), Rates: o.Rates,
		CPU:    job.CPUInfo{Vendor: rep.CPU.Vendor, Model: rep.CPU.Model, Cores: rep.CPU.Cores, Threads: rep.CPU.Threads, Flags: rep.CPU.Flags},
		Memory: rep.Memory.UsableBytes, OS: rep.OS, Arch: rep.Arch,
	}
	if c.Network == "" {
		c.Network = mesh.DefaultNetwork
	}
	// Only the WASM executor runs jobs in this version, whatever else answers.
	c.Executors = []string{job.ExecutorWASM}
	if rep.Storage != nil {
		c.Storage = rep.Storage.FreeBytes
	}
	for _, g := range rep.GPUs {
		c.GPUs = append(c.GPUs, job.GPU{Vendor: strings.ToLower(g.Vendor), Model: g.Model, VRAMBytes: g.VRAMBytes, Driver: g.DriverVersion, PCI: g.PCIAddress})
	}
	if rep.Benchmark != nil {
		c.Score = job.Score{HashMBps: rep.Benchmark.HashMBPerSecPerCore, GFLOPS: rep.Benchmark.MatmulGFLOPS}
	}
	threads := int64(max(rep.CPU.Threads, 1))
	c.Total = job.Resources{CPUMillis: threads * 1000, MemoryBytes: c.Memory}
	if o.Capacity.CPUMillis > 0 {
		c.Total.CPUMillis = o.Capacity.CPUMillis
	}
	if o.Capacity.MemoryBytes > 0 {
		c.Total.MemoryBytes = o.Capacity.MemoryBytes
	}
	if s := o.Simulated; s != nil {
		if !SimulationAllowed(c.Network) {
			return c, configError{fmt.Errorf("simulated capacity on network %q: only on test networks (names starting with \"test\", and \"devnet\")", c.Network)}
		}
		c.Simulated = true
		if s.CPUMillis > 0 {
			c.Total.CPUMillis = s.CPUMillis
		}
		if s.MemoryBytes > 0 {
			c.Total.MemoryBytes, c.Memory = s.MemoryBytes, s.MemoryBytes
		}
		if s.GPUs != nil {
			c.GPUs = slices.Clone(s.GPUs)
		}
		if s.Score != nil {
			c.Score = *s.Score
		}
	}
	c.Total.GPUs = len(c.GPUs)
	c.Free = c.Total
	return c, nil
}

// capabilities are the DHT keys a provider with capacity c announces.
func capabilities(c *job.Capacity) []string {
	caps := mesh.Capabilities(c.Region, c.Executors)
	if len(c.GPUs) > 0 {
		caps = append(caps, "gpu")
	}
	for _, g := range c.GPUs {
		keys := []string{"gpu-vendor=" + g.Vendor, job.GPUClass(g.VRAMBytes)}
		// Every dash-prefix of the model key, so that a search for "h100"
		// finds an "h100-80gb-hbm3".
		model := job.ModelKey(g.Model)
		for i := range len(model) {
			if model[i] == '-' {
				keys = append(keys, "gpu-model="+model[:i])
			}
		}
		keys = append(keys, "gpu-model="+model)
		for _, k := range keys {
			if k != "" && !strings.HasSuffix(k, "=") && !slices.Contains(caps, k) {
				caps = append(caps, k)
			}
		}
	}
	return caps
}

// publisher keeps a provider's signed capacity record on the DHT: at
// start, at a third of its lifetime, and (at most every 2 s) when what is
// free changes.
type publisher struct {
	mu      sync.Mutex
	record  job.Capacity
	changed chan struct{}
	size    int // bytes of the last signed record
}

func (p *Provider) startPublisher(c job.Capacity) {
	p.pub = &publisher{record: c, changed: make(chan struct{}, 1)}
	// A restarted provider must outrank its old records: start from the clock.
	p.pub.record.Seq = uint64(p.now().UnixNano())
	p.own.Go(p.publish)
}

// capacityChanged asks the publisher to store a fresh record.
func (p *Provider) capacityChanged() {
	if p.pub == nil {
		return
	}
	select {
	case p.pub.changed <- struct{}{}:
	default:
	}
}

func (p *Provider) publish() {
	ttl := p.opts.RecordTTL
	const minGap = 2 * time.Second
	retry := 100 * time.Millisecond
	for {
		p.pub.mu.Lock()
		p.pub.record.Seq++
		p.pub.record.ExpiresMS = p.now().Add(ttl).UnixMilli()
		p.pub.record.Free = p.reserved.Free()
		p.pub.record.Carbon, p.pub.record.Forecast = p.carbon.declare(p.now())
		rec := p.pub.record
		p.pub.mu.Unlock()
		ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
		size, err := p.mesh.PutCapacity(ctx, &rec)
		cancel()
		next := ttl / 3
		if err != nil {
			p.log.Debugw("publishing the capacity (retrying)", "err", err)
			next, retry = retry, min(retry*2, 10*time.Second)
		} else {
			retry = 100 * time.Millisecond
			p.pub.mu.Lock()
			p.pub.size = size
			p.pub.mu.Unlock()
		}
		select {
		case <-p.ctx.Done():
			return
		case <-time.After(next):
		case <-p.pub.changed:
			select { // rate limit
			case <-p.ctx.Done():
				return
			case <-time.After(minGap):
			}
		}
	}
}

// Capacity returns the provider's current record (zero before Start).
func (p *Provider) Capacity() job.Capacity {
	if p.pub == nil {
		return job.Capacity{}
	}
	p.pub.mu.Lock()
	defer p.pub.mu.Unlock()
	c := p.pub.record
	c.Free = p.reserved.Free()
	return c
}
