package job_test

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/computemesh/computemesh/job"
)

const (
	gib = uint64(1) << 30
	mib = uint64(1) << 20
)

// capTestRecord returns a valid capacity record; each call returns a fresh
// copy. It has one H100 and one A100, 8 cores and 64GiB.
func capTestRecord() *job.Capacity {
	return &job.Capacity{
		V:         job.Version,
		Peer:      "12D3KooWtestpeer",
		Network:   "test",
		Seq:       1,
		ExpiresMS: 1 << 42,
		Region:    "eu-west",
		Executors: []string{job.ExecutorWASM},
		Rates:     job.Rates{CPUHour: 10, GPUHour: 100},
		CPU:       job.CPUInfo{Cores: 8, Threads: 16, Flags: []string{"avx2"}},
		Memory:    64 * gib,
		GPUs: []job.GPU{
			{Vendor: "nvidia", Model: "NVIDIA H100 80GB HBM3", VRAMBytes: 81559 * mib},
			{Vendor: "nvidia", Model: "NVIDIA A100-SXM4-40GB", VRAMBytes: 40960 * mib},
		},
		Total: job.Resources{CPUMillis: 8000, MemoryBytes: 64 * gib, GPUs: 2},
		Free:  job.Resources{CPUMillis: 8000, MemoryBytes: 64 * gib, GPUs: 2},
	}
}

func TestCapacityValidate(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(c *job.Capacity)
		wantErr string // a prefix naming the field; "" for valid
	}{
		{"valid", func(c *job.Capacity) {}, ""},
		{"valid minimal", func(c *job.Capacity) { *c = job.Capacity{V: job.Version, Peer: "p", Network: "n"} }, ""},
		{"valid region at limit", func(c *job.Capacity) { c.Region = strings.Repeat("r", job.MaxRegionLen) }, ""},
		{"valid peer at limit", func(c *job.Capacity) { c.Peer = strings.Repeat("p", 128) }, ""},
		{"valid network at limit", func(c *job.Capacity) { c.Network = strings.Repeat("n", 64) }, ""},
		{"valid gpus at limit", func(c *job.Capacity) { c.GPUs = make([]job.GPU, job.MaxGPUs) }, ""},
		{"valid executors and flags at limit", func(c *job.Capacity) {
			c.Executors = make([]string, 16)
			c.CPU.Flags = make([]string, 64)
		}, ""},
		{"version zero", func(c *job.Capacity) { c.V = 0 }, "v:"},
		{"version ahead", func(c *job.Capacity) { c.V = job.Version + 1 }, "v:"},
		{"no peer", func(c *job.Capacity) { c.Peer = "" }, "peer:"},
		{"peer too long", func(c *job.Capacity) { c.Peer = strings.Repeat("p", 129) }, "peer:"},
		{"no network", func(c *job.Capacity) { c.Network = "" }, "network:"},
		{"network too long", func(c *job.Capacity) { c.Network = strings.Repeat("n", 65) }, "network:"},
		{"region too long", func(c *job.Capacity) { c.Region = strings.Repeat("r", job.MaxRegionLen+1) }, "region:"},
		{"region glob star", func(c *job.Capacity) { c.Region = "eu-*" }, "region:"},
		{"region glob question", func(c *job.Capacity) { c.Region = "eu-wes?" }, "region:"},
		{"region glob class", func(c *job.Capacity) { c.Region = "eu-[we]" }, "region:"},
		{"region backslash", func(c *job.Capacity) { c.Region = `eu\west` }, "region:"},
		{"too many gpus", func(c *job.Capacity) { c.GPUs = make([]job.GPU, job.MaxGPUs+1) }, "gpus:"},
		{"too many executors", func(c *job.Capacity) { c.Executors = make([]string, 17) }, "executors or cpu.flags:"},
		{"too many cpu flags", func(c *job.Capacity) { c.CPU.Flags = make([]string, 65) }, "executors or cpu.flags:"},
		{"negative cpu rate", func(c *job.Capacity) { c.Rates.CPUHour = -1 }, "rates:"},
		{"negative gpu rate", func(c *job.Capacity) { c.Rates.GPUHour = -1 }, "rates:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := capTestRecord()
			tt.mod(c)
			err := c.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want an error starting %q", tt.wantErr)
			}
			if !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Fatalf("Validate() = %q, want it to start with %q", err, tt.wantErr)
			}
		})
	}
}

func TestGPUClass(t *testing.T) {
	// The threshold of a class of g GiB is 95% of g GiB (integer division).
	threshold := func(g uint64) uint64 { return (g << 30) / 10 * 9 }
	tests := []struct {
		name string
		vram uint64
		want string
		bug  string // a known bug: the case is skipped with this message
	}{
		{"unknown", 0, "", ""},
		{"1 byte", 1, "", ""},
		{"4GiB", 4 * gib, "", ""},
		{"just under 8g threshold", threshold(8) - 1, "", ""},
		{"at 8g threshold", threshold(8), "vram>=8g", ""},
		{"8GiB", 8 * gib, "vram>=8g", ""},
		{"12GiB", 12 * gib, "vram>=8g", ""},
		{"16GB decimal is 14.9GiB", 16e9, "vram>=16g", ""},
		{"80GB decimal is 74.5GiB", 80e9, "vram>=80g", ""},
		{"16GiB", 16 * gib, "vram>=16g", ""},
		{"RTX 4090 24564MiB", 24564 * mib, "vram>=24g", ""},
		{"24GiB", 24 * gib, "vram>=24g", ""},
		{"just under 24g threshold", threshold(24) - 1, "vram>=16g", ""},
		{"at 24g threshold", threshold(24), "vram>=24g", ""},
		{"A100 40GB 40960MiB", 40960 * mib, "vram>=40g", ""},
		{"40GiB", 40 * gib, "vram>=40g", ""},
		{"just under 40g threshold", threshold(40) - 1, "vram>=24g", ""},
		{"48GiB", 48 * gib, "vram>=48g", ""},
		{"RTX A6000 49140MiB", 49140 * mib, "vram>=48g", ""},
		{"L40S 46068MiB", 46068 * mib, "vram>=48g", "BUG job/capacity.go GPUClass: a 48GB L40S reports 46068MiB (93.7%), under the 95% threshold, and is classed vram>=40g"},
		{"A10 23028MiB", 23028 * mib, "vram>=24g", "BUG job/capacity.go GPUClass: a 24GB A10/A10G reports 23028MiB (93.7%), under the 95% threshold, and is classed vram>=16g"},
		{"L4 23034MiB", 23034 * mib, "vram>=24g", "BUG job/capacity.go GPUClass: a 24GB L4 reports 23034MiB (93.7%), under the 95% threshold, and is classed vram>=16g"},
		{"just under 48g threshold", threshold(48) - 1, "vram>=40g", ""},
		{"H100 80GB 81559MiB", 81559 * mib, "vram>=80g", ""},
		{"A100 80GB 81920MiB", 81920 * mib, "vram>=80g", ""},
		{"at 80g threshold", threshold(80), "vram>=80g", ""},
		{"just under 80g threshold", threshold(80) - 1, "vram>=48g", ""},
		{"H200 141GB", 143771 * mib, "vram>=80g", ""},
		{"huge", 1 << 50, "vram>=80g", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := job.GPUClass(tt.vram); got != tt.want {
				t.Fatalf("GPUClass(%d = %s) = %q, want %q", tt.vram, job.FormatSize(tt.vram), got, tt.want)
			}
		})
	}
}

func TestModelKey(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"NVIDIA H100 80GB HBM3", "h100-80gb-hbm3"},
		{"NVIDIA GeForce RTX 4090", "rtx-4090"},
		{"GeForce RTX 3080 Ti", "rtx-3080-ti"},
		{"AMD Instinct MI300X", "instinct-mi300x"},
		{"AMD Radeon RX 7900 XTX", "rx-7900-xtx"},
		{"Intel Data Center GPU Max 1550", "data-center-gpu-max-1550"},
		{"NVIDIA A100-SXM4-80GB", "a100-sxm4-80gb"},
		{"NVIDIA A100 80GB PCIe", "a100-80gb-pcie"},
		{"Tesla V100-SXM2-16GB", "tesla-v100-sxm2-16gb"},
		{"h100", "h100"},
		{"H100", "h100"},
		{"  H100  PCIe  ", "h100-pcie"},
		{"H100 (PCIe)", "h100-pcie"},
		{"H100_PCIe", "h100-pcie"},
		{"--h100--", "h100"},
		{"h100...", "h100"},
		{"a100*", "a100"},
		{"NVIDIA  H100", "h100"},
		{"NVIDIA-H100", "nvidia-h100"}, // only "nvidia " with a space is a vendor prefix
		{"nvidia", "nvidia"},
		{"NVIDIA ", ""},
		{"", ""},
		{"!!!", ""},
		{"日本 GPU", "gpu"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := job.ModelKey(tt.in); got != tt.want {
				t.Fatalf("ModelKey(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestModelMatches(t *testing.T) {
	tests := []struct {
		want, model string
		match       bool
	}{
		{"", "NVIDIA H100 80GB HBM3", true},
		{"", "", true},
		{"h100", "NVIDIA H100 80GB HBM3", true},
		{"h100", "H100 PCIe", true},
		{"H100", "NVIDIA H100 80GB HBM3", true},
		{"nvidia h100", "NVIDIA H100 80GB HBM3", true},
		{"h100", "h100", true},
		{"h100", "H1000", false},
		{"h100", "A100", false},
		{"h100", "NVIDIA A100-SXM4-80GB", false},
		{"h100", "", false},
		{"h100-80gb", "NVIDIA H100 80GB HBM3", true},
		{"h100-80gb-hbm3", "NVIDIA H100 80GB HBM3", true},
		{"h100-80gb-hbm3-x", "NVIDIA H100 80GB HBM3", false},
		{"h100-80", "NVIDIA H100 80GB HBM3", false}, // a prefix ends at a dash
		{"a100", "NVIDIA A100-SXM4-80GB", true},
		{"a100-sxm4", "NVIDIA A100-SXM4-80GB", true},
		{"a100-80gb", "NVIDIA A100 80GB PCIe", true},
		// The rule is a dash-separated prefix: "a100-80gb" is not a prefix
		// of "a100-sxm4-80gb", the key of how nvidia-smi names the SXM card.
		{"a100-80gb", "NVIDIA A100-SXM4-80GB", false},
		{"rtx-4090", "NVIDIA GeForce RTX 4090", true},
		{"4090", "NVIDIA GeForce RTX 4090", false},
		{"mi300x", "AMD Instinct MI300X", false},
		{"instinct-mi300x", "AMD Instinct MI300X", true},
		// A glob that ModelKey reduces to a plain prefix still matches.
		{"a100*", "NVIDIA A100-SXM4-80GB", true},
		{"h100*", "H100 PCIe", true},
	}
	for _, tt := range tests {
		t.Run(tt.want+" vs "+tt.model, func(t *testing.T) {
			if got := job.ModelMatches(tt.want, tt.model); got != tt.match {
				t.Fatalf("ModelMatches(%q, %q) = %v, want %v (keys %q, %q)", tt.want, tt.model, got, tt.match, job.ModelKey(tt.want), job.ModelKey(tt.model))
			}
		})
	}
}

// TestModelMatchesGlob checks the documented glob rule ("or match it as a
// glob"). ModelKey turns '*', '?', '[' and ']' into dashes before
// path.Match sees the wanted model, so no glob survives.
func TestModelMatchesGlob(t *testing.T) {
	tests := []struct {
		want, model string
		match       bool
	}{
		{"a100*80gb", "NVIDIA A100-SXM4-80GB", true},
		{"*80gb*", "NVIDIA H100 80GB HBM3", true},
		{"h?00", "NVIDIA H100 PCIe", false}, // a glob matches the whole key
		{"h?00*", "NVIDIA H100 PCIe", true},
		{"[ah]100*", "NVIDIA A100-SXM4-80GB", true},
		{"a100*", "NVIDIA A1000", true},
		{"*", "anything", true},
	}
	for _, tt := range tests {
		t.Run(tt.want+" vs "+tt.model, func(t *testing.T) {
			if got := job.ModelMatches(tt.want, tt.model); got != tt.match {
				t.Fatalf("ModelMatches(%q, %q) = %v, want %v", tt.want, tt.model, got, tt.match)
			}
		})
	}
}

func TestMismatch(t *testing.T) {
	tests := []struct {
		name string
		mod  func(c *job.Capacity) // nil: the test record as is
		need job.Need
		want string
	}{
		{"empty need", nil, job.Need{}, ""},
		{"cpu only fits", nil, job.Need{CPUMillis: 8000, MemoryBytes: 64 * gib, Executor: "wasm", Region: "eu-*"}, ""},
		{"no executor", nil, job.Need{Executor: "docker"}, "no docker executor"},
		{"region exact", nil, job.Need{Region: "eu-west"}, ""},
		{"region glob matches", nil, job.Need{Region: "eu-*"}, ""},
		{"region glob misses", nil, job.Need{Region: "us-*"}, "region not us-*"},
		{"region invalid glob", nil, job.Need{Region: "eu-["}, "region not eu-["},
		{"region glob vs no region", func(c *job.Capacity) { c.Region = "" }, job.Need{Region: "eu-*"}, "region not eu-*"},
		{"cpus", nil, job.Need{CPUMillis: 8001}, "cpus < 8.001"},
		{"cpus whole", nil, job.Need{CPUMillis: 16000}, "cpus < 16"},
		{"memory", nil, job.Need{MemoryBytes: 64*gib + 1}, "memory < 64GiB"},
		{"memory 128GiB", nil, job.Need{MemoryBytes: 128 * gib}, "memory < 128GiB"},
		{"executor before region", nil, job.Need{Executor: "docker", Region: "us-*"}, "no docker executor"},
		{"region before cpus", nil, job.Need{Region: "us-*", CPUMillis: 1 << 40}, "region not us-*"},
		{"no GPU", func(c *job.Capacity) { c.GPUs = nil }, job.Need{GPUs: 1}, "no GPU"},
		{"no GPU for model", func(c *job.Capacity) { c.GPUs = nil }, job.Need{GPUModel: "h100"}, "no GPU"},
		{"no GPU for vram", func(c *job.Capacity) { c.GPUs = nil }, job.Need{MinVRAM: gib}, "no GPU"},
		{"no GPU needed none had", func(c *job.Capacity) { c.GPUs = nil }, job.Need{CPUMillis: 1000}, ""},
		{"any GPU", nil, job.Need{GPUs: 1}, ""},
		{"two GPUs", nil, job.Need{GPUs: 2}, ""},
		{"three GPUs", nil, job.Need{GPUs: 3}, "fewer than 3 matching GPUs"},
		{"model", nil, job.Need{GPUModel: "h100"}, ""},
		{"model implies one", nil, job.Need{GPUs: 0, GPUModel: "a100"}, ""},
		{"model mismatch", nil, job.Need{GPUs: 1, GPUModel: "mi300x"}, "GPU not mi300x"},
		{"model two of one", nil, job.Need{GPUs: 2, GPUModel: "h100"}, "fewer than 2 matching GPUs"},
		{"vram fits both", nil, job.Need{GPUs: 2, MinVRAM: 40 * gib}, ""},
		{"vram too small", func(c *job.Capacity) { c.GPUs = c.GPUs[1:] }, job.Need{GPUs: 1, MinVRAM: 48 * gib}, "VRAM < 48GiB"},
		{"vram too small for all", nil, job.Need{GPUs: 1, MinVRAM: 100 * gib}, "VRAM < 100GiB"},
		{"vram unknown", func(c *job.Capacity) { c.GPUs[0].VRAMBytes, c.GPUs = 0, c.GPUs[:1] }, job.Need{MinVRAM: 40 * gib}, "VRAM < 40GiB"},
		{"vram one of two", nil, job.Need{GPUs: 2, MinVRAM: 60 * gib}, "fewer than 2 matching GPUs"},
		{"vram and model", nil, job.Need{GPUs: 1, GPUModel: "h100", MinVRAM: 60 * gib}, ""},
		{"model matches but vram does not", nil, job.Need{GPUs: 1, GPUModel: "a100", MinVRAM: 60 * gib}, "VRAM < 60GiB"},
		{"eight of eight", func(c *job.Capacity) {
			c.GPUs = make([]job.GPU, 8)
			for i := range c.GPUs {
				c.GPUs[i] = job.GPU{Vendor: "nvidia", Model: "NVIDIA H100 80GB HBM3", VRAMBytes: 81559 * mib}
			}
		}, job.Need{GPUs: 8, GPUModel: "h100", MinVRAM: 40 * gib}, ""},
		{"nine of eight", func(c *job.Capacity) {
			c.GPUs = make([]job.GPU, 8)
			for i := range c.GPUs {
				c.GPUs[i] = job.GPU{Model: "NVIDIA H100 80GB HBM3", VRAMBytes: 81559 * mib}
			}
		}, job.Need{GPUs: 9, GPUModel: "h100"}, "fewer than 9 matching GPUs"},
		{"from resources", nil, job.Resources{CPUMillis: 2000, MemoryBytes: gib, GPUs: 1, GPUModel: "h100", GPUVRAMBytes: 40 * gib}.Need(), ""},
		{"from resources mismatch", nil, job.Resources{CPUMillis: 2000, MemoryBytes: gib, GPUs: 1, GPUModel: "rtx-4090"}.Need(), "GPU not rtx-4090"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := capTestRecord()
			if tt.mod != nil {
				tt.mod(c)
			}
			if got := c.Mismatch(tt.need); got != tt.want {
				t.Fatalf("Mismatch(%+v) = %q, want %q", tt.need, got, tt.want)
			}
		})
	}
}

func TestResourcesNeed(t *testing.T) {
	r := job.Resources{CPUMillis: 1500, MemoryBytes: 3 * gib, GPUs: 2, GPUModel: "h100", GPUVRAMBytes: 80 * gib}
	want := job.Need{CPUMillis: 1500, MemoryBytes: 3 * gib, GPUs: 2, GPUModel: "h100", MinVRAM: 80 * gib}
	if got := r.Need(); got != want {
		t.Fatalf("Need() = %+v, want %+v", got, want)
	}
}

func FuzzModelKey(f *testing.F) {
	for _, s := range []string{
		"", "NVIDIA H100 80GB HBM3", "NVIDIA GeForce RTX 4090", "AMD Instinct MI300X",
		"AMD Radeon RX 7900 XTX", "a100*", "--x--", "NVIDIA ", "nvidia nvidia h100",
		"geforce nvidia x", "日本 GPU", "\xff\xfe", "K", "İ",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k := job.ModelKey(s)
		if k2 := job.ModelKey(k); k2 != k {
			t.Fatalf("ModelKey(%q) = %q, but ModelKey(%q) = %q", s, k, k, k2)
		}
		if !utf8.ValidString(k) {
			t.Fatalf("ModelKey(%q) = %q: not UTF-8", s, k)
		}
		for i := 0; i < len(k); i++ {
			b := k[i]
			if !(b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '-') {
				t.Fatalf("ModelKey(%q) = %q: byte %q", s, k, b)
			}
		}
		if strings.HasPrefix(k, "-") || strings.HasSuffix(k, "-") || strings.Contains(k, "--") {
			t.Fatalf("ModelKey(%q) = %q: stray dash", s, k)
		}
		if k != "" && !job.ModelMatches(s, s) {
			t.Fatalf("ModelMatches(%q, %q) = false", s, s)
		}
	})
}

// A record's forecast starts about when the record was made: one dated far
// ahead (or far back) of its expiry is refused, naming the field.
func TestCapacityForecastDatedWithItsRecord(t *testing.T) {
	hour := int64(time.Hour / time.Millisecond)
	for _, c := range []struct {
		name  string
		start int64 // hours from the record's expiry
		ok    bool
	}{
		{"the current hour", -1, true},
		{"the expiry's hour", 0, true},
		{"150 hours ahead", 150, false},
		{"3 days back", -72, false},
	} {
		rec := capTestRecord()
		rec.ExpiresMS = 1000 * hour
		rec.Forecast = &job.Forecast{StartMS: rec.ExpiresMS + c.start*hour, Hours: []job.Intensity{1}}
		err := rec.Validate()
		if c.ok != (err == nil) || (!c.ok && !strings.Contains(err.Error(), "forecast.start_ms")) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}
