package job

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

var sizeUnits = []struct {
	suffix string
	mult   uint64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"PiB", 1 << 50},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40},
	{"B", 1},
}

// ParseSize parses a byte size such as "64MiB", "8GiB", "1.5GB" or "4096".
// Binary suffixes (KiB, MiB, GiB, TiB, and the short K, M, G, T) are powers of
// 1024; decimal ones (KB, MB, GB, TB) powers of 1000.
func ParseSize(s string) (uint64, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, fmt.Errorf("empty size")
	}
	mult := uint64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.suffix) {
			mult = u.mult
			t = strings.TrimSpace(strings.TrimSuffix(t, u.suffix))
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("invalid size %q: want a number with an optional unit (KiB, MiB, GiB, TiB, KB, MB, GB, TB)", s)
	}
	b := v * float64(mult)
	if b >= math.MaxUint64/2 {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return uint64(math.Ceil(b)), nil
}

// MinResourceSize is the least a job's memory, GPU memory or disk may be
// given as a bare number: a size without a unit is bytes, and one below
// this is taken for a missing unit (ParseResourceSize).
const MinResourceSize = 1 << 20

// ParseResourceSize is ParseSize for a job's memory, GPU memory or disk:
// a bare number (no unit) below MinResourceSize is refused as a missing
// unit ("64" means 64 bytes, which no job runs in), naming what was
// probably meant.
func ParseResourceSize(s string) (uint64, error) {
	n, err := ParseSize(s)
	if err != nil {
		return 0, err
	}
	t := strings.TrimSpace(s)
	if n > 0 && n < MinResourceSize && strings.TrimLeft(t, "0123456789.") == "" {
		return 0, fmt.Errorf("%q has no unit, so it means %d bytes: give one (e.g. %sMiB or %sGiB)", s, n, t, t)
	}
	return n, nil
}

// FormatSize formats n bytes with a binary unit, e.g. "64MiB", "1.5GiB".
func FormatSize(n uint64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	v := float64(n)
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	s := strconv.FormatFloat(v, 'f', 2, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s + units[i]
}
