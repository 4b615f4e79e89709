package hwprobe

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/jaypipes/ghw"
)

// Summary is what a provider needs to know of its machine to offer it.
type Summary struct {
	CPUModel            string `json:"cpu_model"`
	Cores               int    `json:"cores"`                 // physical cores
	Threads             int    `json:"threads"`               // hardware threads
	UsableMemoryBytes   uint64 `json:"usable_memory_bytes"`   // the kernel's MemTotal
	PhysicalMemoryBytes uint64 `json:"physical_memory_bytes"` // installed, as ghw reads it
	OS                  string `json:"os"`
	Arch                string `json:"arch"`
	// Notes names what could not be read and what was used instead.
	Notes []string `json:"notes,omitempty"`
}

// Probe reads the machine. It does not fail: what it cannot read it names in
// Notes and replaces with what the Go runtime knows.
func Probe() Summary {
	s := Summary{OS: runtime.GOOS, Arch: runtime.GOARCH, Threads: runtime.NumCPU(), Cores: runtime.NumCPU()}
	if c, err := ghw.CPU(ghw.WithDisableWarnings()); err != nil {
		s.Notes = append(s.Notes, fmt.Sprintf("cpu: ghw: %v (using the Go runtime's count)", err))
	} else {
		if c.TotalCores > 0 {
			s.Cores = int(c.TotalCores)
		}
		if c.TotalHardwareThreads > 0 {
			s.Threads = int(c.TotalHardwareThreads)
		}
		if len(c.Processors) > 0 {
			s.CPUModel = c.Processors[0].Model
		}
	}
	if m, err := ghw.Memory(ghw.WithDisableWarnings()); err != nil {
		s.Notes = append(s.Notes, fmt.Sprintf("memory: ghw: %v", err))
	} else {
		if m.TotalPhysicalBytes > 0 {
			s.PhysicalMemoryBytes = uint64(m.TotalPhysicalBytes)
		}
		if m.TotalUsableBytes > 0 {
			s.UsableMemoryBytes = uint64(m.TotalUsableBytes)
		}
	}
	if s.UsableMemoryBytes == 0 {
		if v, err := memTotal("/proc/meminfo"); err == nil {
			s.UsableMemoryBytes = v
		} else {
			s.Notes = append(s.Notes, fmt.Sprintf("memory: %v", err))
		}
	}
	return s
}

// UsableMemory returns the kernel's usable memory (MemTotal).
func UsableMemory() (uint64, error) {
	s := Probe()
	if s.UsableMemoryBytes == 0 {
		return 0, fmt.Errorf("usable memory unknown: %s", strings.Join(s.Notes, "; "))
	}
	return s.UsableMemoryBytes, nil
}

func memTotal(path string) (uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", path, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseUint(fields[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s: MemTotal %q: %w", path, fields[1], err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("%s: no MemTotal line", path)
}
