package hwprobe

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/computemesh/computemesh/job"
)

// Executor names a probe can report.
const (
	ExecutorWASM   = job.ExecutorWASM // always available: built in
	ExecutorDocker = "docker"         // the Docker daemon answers on its socket
)

// GPU sources: where a GPU's description came from.
const (
	SourceGHW       = "ghw"        // the PCI bus through ghw, names from pci.ids
	SourceSysfs     = "sysfs"      // the PCI bus read directly (no pci.ids)
	SourceNvidiaSMI = "nvidia-smi" // seen by nvidia-smi only
	SourceRocmSMI   = "rocm-smi"   // seen by rocm-smi only
	sourceSep       = "+"          // e.g. "ghw+nvidia-smi": seen on the bus, refined by the tool
	defaultRoot     = string(filepath.Separator)
	toolTimeout     = 5 * time.Second // per nvidia-smi or rocm-smi run
	dockerTimeout   = time.Second     // the Docker daemon's /_ping
)

// Report is what a probe found.
type Report struct {
	CPU    CPU    `json:"cpu"`
	Memory Memory `json:"memory"`
	// Storage is that of the data directory; nil without WithDataDir.
	Storage *Storage `json:"storage,omitempty"`
	// GPUs is never nil: an empty list means none was found.
	GPUs      []GPU    `json:"gpus"`
	OS        string   `json:"os"`
	Arch      string   `json:"arch"`
	Executors []string `json:"executors"`
	// Benchmark is nil with WithoutBenchmark.
	Benchmark *Benchmark `json:"benchmark,omitempty"`
	// Notes names everything that could not be read and what was used
	// instead, one line each, prefixed by the part of the report it concerns
	// ("cpu: ", "memory: ", "storage: ", "gpu: ", "executors: ", "benchmark: ").
	Notes []string `json:"notes,omitempty"`
}

// CPU describes the processors, summed over sockets.
type CPU struct {
	Vendor  string `json:"vendor"` // as the kernel names it, e.g. GenuineIntel, AuthenticAMD, ARM
	Model   string `json:"model"`
	Cores   int    `json:"cores"`   // physical cores
	Threads int    `json:"threads"` // hardware threads
	// Flags are the instruction-set extensions that matter for compute, in
	// the kernel's spelling, sorted: on x86 avx, avx2, avx512*, amx*, fma,
	// sse4_2, aes, sha_ni, vaes, avx_vnni, f16c; on arm64 asimd (NEON), sve,
	// sve2, aes, sha2, sha3, sha512, asimddp, i8mm, bf16.
	Flags []string `json:"flags"`
}

// Memory sizes in bytes, named for what they measure.
type Memory struct {
	UsableBytes    uint64 `json:"usable_bytes"`    // the kernel's MemTotal (/proc/meminfo)
	PhysicalBytes  uint64 `json:"physical_bytes"`  // installed, as ghw reads it (online memory blocks)
	AvailableBytes uint64 `json:"available_bytes"` // the kernel's MemAvailable at probe time
}

// Storage describes the file system of the data directory.
type Storage struct {
	DataDir    string `json:"data_dir"`
	FreeBytes  uint64 `json:"free_bytes"` // available to this (unprivileged) user
	TotalBytes uint64 `json:"total_bytes"`
	// Device is the mount's source, e.g. /dev/nvme0n1p2, best effort from
	// /proc/self/mountinfo; FSType its file system type.
	Device string `json:"device,omitempty"`
	FSType string `json:"fs_type,omitempty"`
}

// GPU is one graphics or compute card.
type GPU struct {
	Vendor   string `json:"vendor"`    // NVIDIA, AMD, Intel, or the pci.ids name
	VendorID string `json:"vendor_id"` // PCI vendor ID, e.g. 0x10de
	DeviceID string `json:"device_id,omitempty"`
	Model    string `json:"model"`
	// VRAMBytes is the card's own memory; 0 where unknown (or shared, as with
	// integrated graphics).
	VRAMBytes     uint64 `json:"vram_bytes"`
	Driver        string `json:"driver,omitempty"` // kernel driver, e.g. nvidia, amdgpu, i915
	DriverVersion string `json:"driver_version,omitempty"`
	// PCIAddress is domain:bus:device.function, e.g. 0000:17:00.0.
	PCIAddress string `json:"pci_address"`
	// Source is ghw, sysfs, nvidia-smi or rocm-smi, or a bus source refined
	// by a tool: ghw+nvidia-smi, sysfs+rocm-smi, ...
	Source string `json:"source"`
}

// Option changes how Probe reads the machine.
type Option func(*config)

type config struct {
	root         string // the tree /proc and /sys are read from
	dataDir      string
	path         string // the list of directories tools are looked up in
	pathSet      bool
	dockerSocket string
	benchmark    bool
	bench        benchSizes
}

// WithRoot reads /proc, /sys and the PCI ID database under dir instead of /
// (ghw's chroot): a mounted host root in a container, or a test fixture.
// Unless WithPath is given too, nvidia-smi and rocm-smi are not run, and the
// Docker socket is looked for under dir.
func WithRoot(dir string) Option {
	return func(c *config) { c.root = dir }
}

// WithDataDir names the node's data directory: its file system is reported
// as Storage and the benchmark is cached in it (benchmark.json).
func WithDataDir(dir string) Option {
	return func(c *config) { c.dataDir = dir }
}

// WithPath looks tools (nvidia-smi, rocm-smi) up in path, a list of
// directories in the form of $PATH, instead of $PATH. An empty path runs no
// tools.
func WithPath(path string) Option {
	return func(c *config) { c.path, c.pathSet = path, true }
}

// WithDockerSocket checks for the Docker daemon on the unix socket at path
// instead of DOCKER_HOST (when unix://) or /var/run/docker.sock.
func WithDockerSocket(path string) Option {
	return func(c *config) { c.dockerSocket = path }
}

// WithoutBenchmark skips the benchmark: Report.Benchmark stays nil.
func WithoutBenchmark() Option {
	return func(c *config) { c.benchmark = false }
}

func newConfig(opts []Option) *config {
	c := &config{root: defaultRoot, benchmark: true, bench: defaultBenchSizes()}
	for _, o := range opts {
		o(c)
	}
	if c.root == "" {
		c.root = defaultRoot
	}
	if !c.pathSet {
		if c.live() {
			c.path = os.Getenv("PATH")
		}
	}
	if c.dockerSocket == "" {
		c.dockerSocket = defaultDockerSocket(c)
	}
	return c
}

// live reports whether the probe reads this machine rather than a tree.
func (c *config) live() bool { return filepath.Clean(c.root) == defaultRoot }

// file is the path of a file of the probed tree, e.g. file("proc/meminfo").
func (c *config) file(rel string) string { return filepath.Join(c.root, rel) }

// notes collects Report.Notes.
type notes []string

func (n *notes) add(format string, a ...any) { *n = append(*n, fmt.Sprintf(format, a...)) }

// Probe reads the machine. It does not fail: what it cannot read it names in
// Report.Notes, with what it used instead. It takes as long as the benchmark
// (under half a second, nothing when cached) plus the tools it runs (at most
// 5 s each, far less in practice); ctx bounds both.
func Probe(ctx context.Context, opts ...Option) Report {
	c := newConfig(opts)
	var n notes
	r := Report{OS: runtime.GOOS, Arch: runtime.GOARCH, GPUs: []GPU{}, Executors: []string{ExecutorWASM}}

	docker := make(chan error, 1)
	go func() { docker <- pingDocker(ctx, c.dockerSocket) }()

	r.CPU = probeCPU(c, &n)
	r.Memory = probeMemory(c, &n)
	if c.dataDir != "" {
		s := probeStorage(c, &n)
		r.Storage = &s
	}
	r.GPUs = probeGPUs(ctx, c, &n)

	switch err := <-docker; {
	case err == nil:
		r.Executors = append(r.Executors, ExecutorDocker)
	case !isAbsent(err):
		n.add("executors: docker: %v", err)
	}

	if c.benchmark {
		b := cachedBenchmark(ctx, c, fingerprint(r), &n)
		r.Benchmark = &b
	}
	r.Notes = n
	return r
}

// UsableMemory returns the kernel's usable memory (MemTotal). It reads only
// /proc/meminfo, falling back on ghw, and runs no benchmark.
func UsableMemory() (uint64, error) {
	mi, err := readMeminfo(filepath.Join(defaultRoot, "proc", "meminfo"))
	if err == nil && mi.total > 0 {
		return mi.total, nil
	}
	if err == nil {
		err = errors.New("MemTotal is 0")
	}
	_, usable, gerr := ghwMemory(defaultRoot)
	if gerr == nil && usable > 0 {
		return usable, nil
	}
	if gerr == nil {
		gerr = errors.New("no usable memory")
	}
	return 0, fmt.Errorf("usable memory unknown: %w; ghw: %w", err, gerr)
}
