package job

import (
	"fmt"
	"path"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits on a job spec. They bound what a client may ask and what a provider
// will decode; errors name the field and the limit.
const (
	MaxArgs          = 256
	MaxArgBytes      = 64 << 10 // all args together
	MaxEnv           = 256
	MaxEnvBytes      = 64 << 10 // all env keys and values together
	MaxStdin         = 1 << 20  // stdin bytes sent to the winner
	MaxNameLen       = 256      // argv[0]
	MaxRegionLen     = 128      // region or region glob
	MaxTimeout       = 24 * time.Hour
	MaxCPUMillis     = 1024 * 1000 // 1024 cores
	MaxMemoryBytes   = 1 << 40     // 1 TiB
	MaxDiskBytes     = 1 << 40     // 1 TiB of outputs
	DefaultTimeout   = 30 * time.Second
	DefaultCPUMillis = 1000
	DefaultMemory    = 64 << 20
)

// Executors known to this version.
const (
	ExecutorWASM   = "wasm"
	ExecutorDocker = "docker"
	// ExecutorExec runs a program of the provider's host that its owner
	// allowed, named by absolute path (Spec.Command).
	ExecutorExec = "exec"
)

// MaxCommandLen bounds an exec job's command path.
const MaxCommandLen = 1024

// ValidateCommand checks an exec job's command: an absolute, clean path
// (e.g. "/usr/bin/python3"), which providers compare with their allowlist.
func ValidateCommand(cmd string) error {
	switch {
	case cmd == "" || len(cmd) > MaxCommandLen:
		return fmt.Errorf("must be 1 to %d bytes", MaxCommandLen)
	case !utf8.ValidString(cmd) || strings.ContainsRune(cmd, 0):
		return fmt.Errorf("%q: not UTF-8 without NUL", cmd)
	case !path.IsAbs(cmd) || path.Clean(cmd) != cmd:
		return fmt.Errorf("%q: must be an absolute, clean path", cmd)
	}
	return nil
}

// MaxImageRef bounds a container image reference.
const MaxImageRef = 256

// ValidateImage checks a container image reference (name[:tag][@digest]).
func ValidateImage(ref string) error {
	if ref == "" || len(ref) > MaxImageRef {
		return fmt.Errorf("must be 1 to %d bytes", MaxImageRef)
	}
	for _, r := range ref {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-/:@", r)) {
			return fmt.Errorf("%q: only letters, digits and . _ - / : @ are allowed", ref)
		}
	}
	return nil
}

// Policies by which a client ranks bids.
const (
	PolicyCost    = "cost"
	PolicyLatency = "latency"
	// PolicyBalanced ranks by a weighted sum of price and latency, each as
	// a ratio to the best bid's (see Weights).
	PolicyBalanced = "balanced"
	// PolicyGreen ranks by the job's estimated emissions (its energy at
	// each bid's carbon intensity), then price (see carbon.go).
	PolicyGreen = "green"
)

// Auction rules: what the winner is paid.
const (
	// AuctionFirstPrice pays the winner its own bid (the default).
	AuctionFirstPrice = "first-price"
	// AuctionSecondPrice pays the winner the runner-up's price (Vickrey):
	// bidding one's true cost is then the best strategy.
	AuctionSecondPrice = "second-price"
)

// MaxReplicas bounds Spec.Replicas.
const MaxReplicas = 9

// MaxNotRegions bounds Spec.NotRegions.
const MaxNotRegions = 32

// ReferenceHashMBps is the hash score per core of the reference machine on
// which Spec.ExpectedMS is measured: a provider with twice the score is
// expected to run a job in half the time.
const ReferenceHashMBps = 1000

// Weights weigh price against latency (and, optionally, reputation) under
// PolicyBalanced. Zero cost and latency weights mean equal ones.
type Weights struct {
	Cost    float64 `json:"cost,omitempty"`
	Latency float64 `json:"latency,omitempty"`
	// Reputation weighs the best reputation over the bidder's (a bidder
	// the client knows nothing of counts as 0.5).
	Reputation float64 `json:"reputation,omitempty"`
	// Carbon weighs the job's estimated emissions there over the least
	// of any bid's (a bidder that declares no intensity counts as
	// UndeclaredIntensity, or the worst declared when that is worse).
	Carbon float64 `json:"carbon,omitempty"`
}

// Normalized returns w with its weights summing to 1 (cost and latency
// equal when both are zero).
func (w Weights) Normalized() Weights {
	c, l, r, g := max(w.Cost, 0), max(w.Latency, 0), max(w.Reputation, 0), max(w.Carbon, 0)
	if c == 0 && l == 0 {
		c, l = 0.5, 0.5
	}
	sum := c + l + r + g
	return Weights{Cost: c / sum, Latency: l / sum, Reputation: r / sum, Carbon: g / sum}
}

// Resources are what a job asks a provider to reserve for it.
type Resources struct {
	// CPUMillis is CPU in thousandths of a core (1000 = one core).
	CPUMillis int64 `json:"cpu_millis"`
	// MemoryBytes bounds the job's memory (for WASM, its linear memory).
	MemoryBytes uint64 `json:"memory_bytes"`
	// GPUs is the number of GPUs the job needs, of GPUModel (a model key
	// such as "h100", empty for any) with at least GPUVRAMBytes each.
	GPUs         int    `json:"gpus,omitempty"`
	GPUModel     string `json:"gpu_model,omitempty"`
	GPUVRAMBytes uint64 `json:"gpu_vram_bytes,omitempty"`
	// DiskBytes is the storage the job reserves for what it leaves in
	// /outputs: the provider refuses more, and prices it per GiB-hour
	// (0: the provider's default output limit, not priced).
	DiskBytes uint64 `json:"disk_bytes,omitempty"`
}

// Need returns what r asks of a provider's capacity.
func (r Resources) Need() Need {
	return Need{CPUMillis: r.CPUMillis, MemoryBytes: r.MemoryBytes, GPUs: r.GPUs, GPUModel: r.GPUModel, MinVRAM: r.GPUVRAMBytes}
}

// String formats r for people, e.g. "1 cpu, 64MiB" or
// "4 cpu, 32GiB, 2 gpu h100 >= 80GiB".
func (r Resources) String() string {
	s := fmt.Sprintf("%g cpu, %s", float64(r.CPUMillis)/1000, FormatSize(r.MemoryBytes))
	if r.GPUs > 0 || r.GPUModel != "" || r.GPUVRAMBytes > 0 {
		s += fmt.Sprintf(", %d gpu", max(r.GPUs, 1))
		if r.GPUModel != "" {
			s += " " + r.GPUModel
		}
		if r.GPUVRAMBytes > 0 {
			s += " >= " + FormatSize(r.GPUVRAMBytes)
		}
	}
	if r.DiskBytes > 0 {
		s += ", " + FormatSize(r.DiskBytes) + " disk"
	}
	return s
}

// Spec is the canonical description of a job: everything the winner needs to
// run it, with the module named by CID. Its canonical encoding (see
// Canonical) is hashed into the job ID. Args, env and stdin travel only to
// the winner, inside the Award, never in gossip.
type Spec struct {
	Executor string `json:"executor"`
	Module   string `json:"module,omitempty"`  // wasm: CID of the module bytes
	Image    string `json:"image,omitempty"`   // docker: image reference or digest
	Command  string `json:"command,omitempty"` // exec: absolute path of the program
	// Network asks for network access (docker and exec jobs only, and only
	// from a provider whose owner allows it); off by default.
	Network       bool              `json:"network,omitempty"`
	Name          string            `json:"name"` // argv[0]
	Args          []string          `json:"args,omitempty"`
	Env           map[string]string `json:"env,omitempty"`
	Stdin         []byte            `json:"stdin,omitempty"`
	Resources     Resources         `json:"resources"`
	TimeoutMS     int64             `json:"timeout_ms"`
	MaxPrice      Credits           `json:"max_price,omitempty"` // 0: no limit
	Region        string            `json:"region,omitempty"`    // glob, e.g. "eu-*"; empty: anywhere
	Policy        string            `json:"policy"`
	Deterministic bool              `json:"deterministic,omitempty"`
	// NotRegions are region globs the job must not run in (data
	// residency: "us-*" keeps it out of every us- region).
	NotRegions []string `json:"not_regions,omitempty"`
	// Weights weigh price against latency under policy balanced.
	Weights Weights `json:"weights,omitzero"`
	// Auction is the auction rule: first-price (default, "") or
	// second-price.
	Auction string `json:"auction,omitempty"`
	// Replicas runs the job on that many distinct providers and keeps the
	// majority's result (0 or 1: one run).
	Replicas int `json:"replicas,omitempty"`
	// ExpectedMS is the job's expected run time on the reference machine
	// (ReferenceHashMBps per core); the latency policy scales it by each
	// provider's benchmark score. 0: unknown.
	ExpectedMS int64 `json:"expected_ms,omitempty"`
	// MinReputation filters out providers whose reputation in the client's
	// own view is known and below it (0 to 1; 0: no filter).
	MinReputation float64 `json:"min_reputation,omitempty"`
	// MaxCarbon filters out bids on which the job's estimated emissions
	// (its energy at the bid's intensity) pass it, and those that declare
	// no intensity (0: no filter).
	MaxCarbon Carbon `json:"max_carbon_ug,omitempty"`
	// Inputs are mounted read-only under /inputs/<name>: a file (raw CID)
	// or a directory tree (a manifest CID). They travel only to the winner.
	Inputs []Input `json:"inputs,omitempty"`
	// Publish makes the outputs public: the provider and the client
	// announce them on the mesh's DHT and serve them to whoever asks
	// (meshnode get CID from any node; IPFS nodes connected to them). Not
	// with Region or NotRegions: DHT records land on peers anywhere.
	Publish bool `json:"publish,omitempty"`
	// Count makes the job an array of Count tasks, run from one
	// submission, each with its index in its environment (TaskIndexEnv);
	// 0 or 1: an ordinary job. See array.go.
	Count int `json:"count,omitempty"`
}

// Input is one piece of a job's data: by CID, from the client's store
// (a UnixFS file or tree), or from any IPFS peer that holds it (Source
// SourceIPFS); or by URL, fetched by the provider (its owner must allow
// it: start --allow-url-inputs), CID then being optional, what the
// fetched bytes must hash to (a raw CID, or a UnixFS file's).
type Input struct {
	Name   string      `json:"name"` // file or directory name under /inputs
	CID    string      `json:"cid,omitempty"`
	URL    string      `json:"url,omitempty"`
	Source InputSource `json:"source,omitempty"`
}

// InputSource says where the provider fetches an input by CID from.
type InputSource string

// The sources of inputs by CID.
const (
	// SourceClient: the job's client, which serves it to the provider it
	// awarded alone (the blob protocol).
	SourceClient InputSource = ""
	// SourceIPFS: any peer that holds it — the client, mesh nodes that
	// announced it, IPFS nodes the provider is connected to — over
	// Bitswap, which asks every connected peer for it.
	SourceIPFS InputSource = "ipfs"
)

// MaxURLLen bounds an input's URL.
const MaxURLLen = 2048

// MaxInputs bounds the inputs of one job.
const MaxInputs = 64

// Timeout returns the spec's wall-clock limit.
func (s *Spec) Timeout() time.Duration { return time.Duration(s.TimeoutMS) * time.Millisecond }

// RegionAllowed reports whether a provider's region passes both the job's
// region glob and its not-regions.
func (s *Spec) RegionAllowed(region string) bool {
	if !RegionMatches(s.Region, region) {
		return false
	}
	for _, g := range s.NotRegions {
		if RegionMatches(g, region) {
			return false
		}
	}
	return true
}

// Validate checks r's bounds.
func (r Resources) Validate() error {
	if r.CPUMillis <= 0 || r.CPUMillis > MaxCPUMillis {
		return fmt.Errorf("resources.cpus: %g is out of range (0.001 to %d)", float64(r.CPUMillis)/1000, MaxCPUMillis/1000)
	}
	if r.MemoryBytes == 0 || r.MemoryBytes > MaxMemoryBytes {
		return fmt.Errorf("resources.memory: %s is out of range (1B to %s)", FormatSize(r.MemoryBytes), FormatSize(MaxMemoryBytes))
	}
	if r.GPUs < 0 || r.GPUs > MaxGPUs {
		return fmt.Errorf("resources.gpus: %d is out of range (0 to %d)", r.GPUs, MaxGPUs)
	}
	if len(r.GPUModel) > 64 {
		return fmt.Errorf("resources.gpu_model: %d bytes, limit 64", len(r.GPUModel))
	}
	if r.DiskBytes > MaxDiskBytes {
		return fmt.Errorf("resources.disk: %s is over the limit of %s", FormatSize(r.DiskBytes), FormatSize(MaxDiskBytes))
	}
	return nil
}

// ValidateRegionGlob checks a region or region glob ("eu-west", "eu-*").
func ValidateRegionGlob(g string) error {
	if len(g) > MaxRegionLen {
		return fmt.Errorf("%d bytes, limit %d", len(g), MaxRegionLen)
	}
	if _, err := path.Match(g, ""); err != nil {
		return fmt.Errorf("invalid glob %q: %w", g, err)
	}
	return nil
}

// RegionMatches reports whether a provider's region satisfies a job's region
// glob. An empty glob matches every region.
func RegionMatches(glob, region string) bool {
	if glob == "" {
		return true
	}
	ok, err := path.Match(glob, region)
	return err == nil && ok
}

// ValidateSecrets checks secret environment variables: names as for env, at
// most 64 of them and 64 KiB in all.
func ValidateSecrets(secrets map[string]string) error {
	if len(secrets) > 64 {
		return fmt.Errorf("secrets: %d, limit 64", len(secrets))
	}
	n := 0
	for k, v := range secrets {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(v, 0) {
			return fmt.Errorf("secrets: invalid variable %q", k)
		}
		n += len(k) + len(v)
	}
	if n > MaxEnvBytes {
		return fmt.Errorf("secrets: %d bytes, limit %d", n, MaxEnvBytes)
	}
	return nil
}

// SortedEnv returns env as KEY=VALUE strings sorted by key.
func SortedEnv(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}
