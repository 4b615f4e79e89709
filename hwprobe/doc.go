// Package hwprobe tells what this machine has: CPU cores and threads and
// memory, read through jaypipes/ghw with fallbacks on the Go runtime and the
// kernel's /proc/meminfo, so that a probe never fails a node's start.
package hwprobe
