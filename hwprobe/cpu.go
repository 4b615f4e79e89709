package hwprobe

import (
	"fmt"
	"runtime"
	"slices"
	"strings"

	"github.com/jaypipes/ghw"
)

func probeCPU(c *config, n *notes) CPU {
	var cpu CPU
	info, err := ghwCPU(c.root)
	switch {
	case err != nil:
		n.add("cpu: ghw: %v", err)
	case len(info.Processors) == 0:
		n.add("cpu: ghw found no processors in %s and %s", c.file("proc/cpuinfo"), c.file("sys/devices/system/cpu"))
	default:
		p := info.Processors[0]
		cpu.Vendor, cpu.Model = p.Vendor, p.Model
		cpu.Cores, cpu.Threads = int(info.TotalCores), int(info.TotalHardwareThreads)
		cpu.Flags = computeFlags(p.Capabilities)
	}
	if cpu.Threads == 0 && c.live() {
		cpu.Threads = runtime.NumCPU()
		n.add("cpu: hardware threads from the Go runtime (%d)", cpu.Threads)
	}
	if cpu.Cores == 0 && cpu.Threads > 0 {
		cpu.Cores = cpu.Threads
		n.add("cpu: physical cores unknown; counting each hardware thread as a core")
	}
	if cpu.Model == "" {
		n.add("cpu: model unknown")
	}
	if cpu.Flags == nil {
		cpu.Flags = []string{}
	}
	return cpu
}

// ghwCPU reads the processors under root through ghw.
func ghwCPU(root string) (info *ghw.CPUInfo, err error) {
	defer recoverInto("reading CPUs", &err)
	info, err = ghw.CPU(ghw.WithChroot(root), ghw.WithDisableWarnings(), ghw.WithDisableTools())
	if err != nil {
		return nil, fmt.Errorf("reading CPUs: %w", err)
	}
	return info, nil
}

// computeFlags keeps the CPU flags that matter for compute, sorted and
// without duplicates.
func computeFlags(all []string) []string {
	out := []string{}
	for _, f := range all {
		f = strings.ToLower(strings.TrimSpace(f))
		if isComputeFlag(f) {
			out = append(out, f)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func isComputeFlag(f string) bool {
	switch f {
	case "avx", "avx2", "fma", "sse4_2", "aes", "sha_ni", "vaes", "avx_vnni", "f16c", // x86
		"neon", "asimd", "asimddp", "sve", "sve2", "sha2", "sha3", "sha512", "i8mm", "bf16": // arm
		return true
	}
	return strings.HasPrefix(f, "avx512") || strings.HasPrefix(f, "amx")
}

// recoverInto turns a panic of a reader (ghw and pcidb index into files they
// read) into an error, so that a malformed file never takes a node down.
func recoverInto(what string, err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%s: panic: %v", what, r)
	}
}
