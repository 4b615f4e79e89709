package hwprobe

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/jaypipes/ghw"
)

func probeMemory(c *config, n *notes) Memory {
	var m Memory
	path := c.file("proc/meminfo")
	mi, err := readMeminfo(path)
	if err != nil {
		n.add("memory: %v", err)
	}
	m.UsableBytes, m.AvailableBytes = mi.total, mi.available
	if err == nil && mi.available == 0 {
		n.add("memory: %s has no MemAvailable (kernel older than 3.14?); available_bytes unknown", path)
	}

	phys, usable, err := ghwMemory(c.root)
	switch {
	case err != nil:
		n.add("memory: ghw: %v; physical_bytes unknown", err)
	case phys == usable:
		// ghw falls back on the usable size when it cannot read the
		// installed size (sysfs memory blocks, then the boot log).
		n.add("memory: ghw could not read the installed size from %s; physical_bytes is the usable size",
			c.file("sys/devices/system/memory"))
		m.PhysicalBytes = phys
	default:
		m.PhysicalBytes = phys
	}
	if m.UsableBytes == 0 && usable > 0 {
		m.UsableBytes = usable
	}
	return m
}

// ghwMemory returns the installed and the usable memory under root as ghw
// reads them.
func ghwMemory(root string) (physical, usable uint64, err error) {
	defer recoverInto("reading memory", &err)
	info, err := ghw.Memory(ghw.WithChroot(root), ghw.WithDisableWarnings(), ghw.WithDisableTools())
	if err != nil {
		return 0, 0, fmt.Errorf("reading memory: %w", err)
	}
	return uint64(max(info.TotalPhysicalBytes, 0)), uint64(max(info.TotalUsableBytes, 0)), nil
}

type meminfo struct {
	total, available uint64 // bytes
}

// readMeminfo reads MemTotal and MemAvailable from a /proc/meminfo file.
// MemTotal is required, MemAvailable is not.
func readMeminfo(path string) (meminfo, error) {
	var mi meminfo
	f, err := os.Open(path)
	if err != nil {
		return mi, fmt.Errorf("reading meminfo: %w", err)
	}
	defer f.Close()
	var haveTotal bool
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "MemTotal" && key != "MemAvailable") {
			continue
		}
		v, err := parseKB(rest)
		if err != nil {
			return mi, fmt.Errorf("%s: %s: %w", path, key, err)
		}
		if key == "MemTotal" {
			mi.total, haveTotal = v, true
		} else {
			mi.available = v
		}
	}
	if err := sc.Err(); err != nil {
		return mi, fmt.Errorf("reading %s: %w", path, err)
	}
	if !haveTotal {
		return mi, fmt.Errorf("%s: no MemTotal line", path)
	}
	return mi, nil
}

// parseKB parses a meminfo value such as "  24684084 kB" into bytes.
func parseKB(s string) (uint64, error) {
	fields := strings.Fields(s)
	if len(fields) == 0 || len(fields) > 2 || (len(fields) == 2 && fields[1] != "kB") {
		return 0, fmt.Errorf("value %q is not a number of kB", s)
	}
	kb, err := strconv.ParseUint(fields[0], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("value %q: %w", s, err)
	}
	if kb > (1<<64-1)/1024 {
		return 0, fmt.Errorf("value %q: %w", s, strconv.ErrRange)
	}
	return kb * 1024, nil
}
