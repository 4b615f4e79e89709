// Package procstat reads the process's own figures from /proc/self/status
// (benchmarks and scale runs report them).
package procstat

import (
	"os"
	"strconv"
	"strings"
)

// RSS is the process's resident set (VmRSS) in bytes, 0 where /proc is
// not.
func RSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}
