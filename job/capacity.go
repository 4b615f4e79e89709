package job

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"time"
)

// MaxRecordTTL bounds a capacity record's life: peers refuse one whose
// expiry is further from their now (and with it, what its forecast may
// say of hours far ahead).
const MaxRecordTTL = 24 * time.Hour

// Limits of a capacity record.
const (
	MaxCapacityRecord = 12 << 10 // signed and encoded: room for MaxGPUs GPUs (~125 bytes each)
	MaxGPUs           = 64
)

// GPU is one graphics accelerator a provider offers.
type GPU struct {
	Vendor    string `json:"vendor"`     // "nvidia", "amd", "intel"
	Model     string `json:"model"`      // as the vendor names it, e.g. "NVIDIA H100 80GB HBM3"
	VRAMBytes uint64 `json:"vram_bytes"` // 0 when unknown
	Driver    string `json:"driver,omitempty"`
	PCI       string `json:"pci,omitempty"`
}

// CPUInfo describes a provider's processor.
type CPUInfo struct {
	Vendor  string   `json:"vendor,omitempty"`
	Model   string   `json:"model,omitempty"`
	Cores   int      `json:"cores"`
	Threads int      `json:"threads"`
	Flags   []string `json:"flags,omitempty"`
}

// Score is a provider's benchmark result.
type Score struct {
	HashMBps float64 `json:"hash_mb_s_per_core"`
	GFLOPS   float64 `json:"matmul_gflops"`
}

// Capacity is what a provider advertises: its hardware, what is free, its
// region, executors and prices, its benchmark score. It travels signed by
// the provider's key (see mesh) with a sequence number and an expiry: a
// provider whose record has expired is gone.
type Capacity struct {
	V         int       `json:"v"`
	Peer      string    `json:"peer"`
	Network   string    `json:"network"`
	Seq       uint64    `json:"seq"`
	ExpiresMS int64     `json:"expires_ms"` // unix ms
	Region    string    `json:"region"`
	Executors []string  `json:"executors"`
	Rates     Rates     `json:"rates"`
	CPU       CPUInfo   `json:"cpu"`
	Memory    uint64    `json:"memory_bytes"`       // usable
	Storage   uint64    `json:"storage_free_bytes"` // under the data dir
	GPUs      []GPU     `json:"gpus,omitempty"`
	Total     Resources `json:"total"` // what it offers at once
	Free      Resources `json:"free"`
	Score     Score     `json:"score"`
	// Simulated capacity is declared, not probed: test networks only.
	Simulated bool   `json:"simulated,omitempty"`
	OS        string `json:"os,omitempty"`
	Arch      string `json:"arch,omitempty"`
	// Carbon is the carbon intensity of the provider's power: for the
	// hours its Forecast does not cover, or all of them (0: not
	// declared). Forecast is its intensity hour by hour from the current
	// hour. Both are self-declared, like Region (see carbon.go).
	Carbon   Intensity `json:"carbon,omitempty"`
	Forecast *Forecast `json:"forecast,omitempty"`
}

// Validate checks the record's fields (not its signature or expiry).
func (c *Capacity) Validate() error {
	if c.V != Version {
		return fmt.Errorf("v: version %d, want %d", c.V, Version)
	}
	if c.Peer == "" || len(c.Peer) > 128 {
		return fmt.Errorf("peer: missing or longer than 128 bytes")
	}
	if c.Network == "" || len(c.Network) > 64 {
		return fmt.Errorf("network: missing or longer than 64 bytes")
	}
	if len(c.Region) > MaxRegionLen || strings.ContainsAny(c.Region, "*?[]\\") {
		return fmt.Errorf("region: %q is not a region name", c.Region)
	}
	if len(c.GPUs) > MaxGPUs {
		return fmt.Errorf("gpus: %d, limit %d", len(c.GPUs), MaxGPUs)
	}
	if len(c.Executors) > 16 || len(c.CPU.Flags) > 64 {
		return fmt.Errorf("executors or cpu.flags: too many (16, 64)")
	}
	if c.Rates.CPUHour < 0 || c.Rates.GPUHour < 0 {
		return fmt.Errorf("rates: negative")
	}
	if err := c.Carbon.Validate(); err != nil {
		return fmt.Errorf("carbon: %w", err)
	}
	if c.Forecast != nil {
		// Hours about now, as the record is: a forecast dated far ahead
		// would hold deferred jobs for days for an hour no one will see.
		// (A record on the wire has its expiry, and an expired one is
		// refused; one being made has none yet.)
		if lo, hi := c.ExpiresMS-MaxForecastLead.Milliseconds(), c.ExpiresMS+time.Hour.Milliseconds(); c.ExpiresMS > 0 && (c.Forecast.StartMS < lo || c.Forecast.StartMS > hi) {
			return fmt.Errorf("forecast.start_ms: %d is not within %v before the record's expiry (%d) and an hour after", c.Forecast.StartMS, MaxForecastLead, c.ExpiresMS)
		}
		return c.Forecast.Validate()
	}
	return nil
}

// GPUClass names a VRAM size class for capability keys: "vram>=8g",
// "vram>=16g", ... "vram>=80g".
func GPUClass(vram uint64) string {
	classes := []uint64{80, 48, 40, 24, 16, 8}
	for _, g := range classes {
		if vramAtLeast(vram, g<<30) {
			return fmt.Sprintf("vram>=%dg", g)
		}
	}
	return ""
}

// vramAtLeast reports whether a card with vram bytes counts as having want:
// cards report some 5 to 7% under their nominal size (an "80GB" H100 shows
// 81559 MiB, a "24GB" L4 23034 MiB), so 90% of want is enough.
func vramAtLeast(vram, want uint64) bool { return vram >= want/10*9 }

// ModelKey normalises a GPU model for matching and capability keys:
// lower case, vendor prefix and punctuation dropped, e.g.
// "NVIDIA H100 80GB HBM3" → "h100-80gb-hbm3".
func ModelKey(model string) string { return modelKey(model, false) }

// modelKey is ModelKey, keeping glob characters (* ? [ ]) when glob is set.
func modelKey(model string, glob bool) string {
	m := strings.ToLower(model)
	for _, p := range []string{"nvidia ", "amd ", "intel ", "geforce ", "radeon "} {
		m = strings.TrimPrefix(m, p)
	}
	var b strings.Builder
	dash := false
	for _, r := range m {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || glob && strings.ContainsRune("*?[]", r) {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

// ModelMatches reports whether a GPU model satisfies a wanted model such as
// "h100" or "a100-80gb": the wanted key must be a dash-separated prefix
// of the model's key, or match it as a glob.
func ModelMatches(want, model string) bool {
	m := ModelKey(model)
	if strings.ContainsAny(want, "*?[") {
		ok, _ := path.Match(modelKey(want, true), m)
		return ok
	}
	w := ModelKey(want)
	return w == "" || m == w || strings.HasPrefix(m, w+"-")
}

// Need is what a job or a search asks of a provider's capacity.
type Need struct {
	CPUMillis   int64
	MemoryBytes uint64
	GPUs        int
	GPUModel    string
	MinVRAM     uint64
	Region      string // glob
	Executor    string
}

// Mismatch returns why capacity c cannot serve n ("" when it can). The
// reasons are short and countable: "no GPU", "VRAM < 40GiB", ...
func (c *Capacity) Mismatch(n Need) string {
	if n.Executor != "" && !slices.Contains(c.Executors, n.Executor) {
		return "no " + n.Executor + " executor"
	}
	if !RegionMatches(n.Region, c.Region) {
		return "region not " + n.Region
	}
	if n.CPUMillis > c.Total.CPUMillis {
		return fmt.Sprintf("cpus < %g", float64(n.CPUMillis)/1000)
	}
	if n.MemoryBytes > c.Total.MemoryBytes {
		return "memory < " + FormatSize(n.MemoryBytes)
	}
	if n.GPUs == 0 && n.GPUModel == "" && n.MinVRAM == 0 {
		return ""
	}
	if len(c.GPUs) == 0 {
		return "no GPU"
	}
	models, match := 0, 0
	for _, g := range c.GPUs {
		if !ModelMatches(n.GPUModel, g.Model) {
			continue
		}
		models++
		if n.MinVRAM == 0 || vramAtLeast(g.VRAMBytes, n.MinVRAM) {
			match++
		}
	}
	want := max(n.GPUs, 1)
	switch {
	case match >= want:
		return ""
	case models == 0:
		return "GPU not " + n.GPUModel
	case match == 0:
		return "VRAM < " + FormatSize(n.MinVRAM)
	default:
		return fmt.Sprintf("fewer than %d matching GPUs", want)
	}
}
