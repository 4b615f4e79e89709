package job

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Credits is an amount in nano-credits (10⁻⁹ credit). Integer amounts keep
// sums exact; people see credits with decimals (see String).
type Credits int64

// Nano is the number of nano-credits in one credit.
const Nano Credits = 1_000_000_000

// String formats c in credits with up to nine decimals and no trailing zeros,
// e.g. "1.5", "0.000416667", "0".
func (c Credits) String() string {
	neg := c < 0
	u := uint64(c)
	if neg {
		u = uint64(-c)
	}
	whole, frac := u/uint64(Nano), u%uint64(Nano)
	s := strconv.FormatUint(whole, 10)
	if frac != 0 {
		f := strings.TrimRight(fmt.Sprintf("%09d", frac), "0")
		s += "." + f
	}
	if neg {
		s = "-" + s
	}
	return s
}

// Float returns c in credits as a float64 (for JSON output to people and
// scripts; never for arithmetic).
func (c Credits) Float() float64 { return float64(c) / float64(Nano) }

// ParseCredits parses a decimal amount of credits such as "1.5" or "0.002"
// into nano-credits. More than nine decimals, signs and exponents are refused.
func ParseCredits(s string) (Credits, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty amount of credits")
	}
	whole, frac, hasFrac := strings.Cut(s, ".")
	if whole == "" && (!hasFrac || frac == "") {
		return 0, fmt.Errorf("invalid amount of credits %q", s)
	}
	for _, r := range whole + frac {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("invalid amount of credits %q: only digits and one '.' are allowed", s)
		}
	}
	if len(frac) > 9 {
		return 0, fmt.Errorf("invalid amount of credits %q: more than 9 decimals (1 nano-credit is the smallest unit)", s)
	}
	var w uint64
	if whole != "" {
		var err error
		w, err = strconv.ParseUint(whole, 10, 64)
		if err != nil || w > uint64(math.MaxInt64/int64(Nano)) {
			return 0, fmt.Errorf("invalid amount of credits %q: too large", s)
		}
	}
	var f uint64
	if frac != "" {
		f, _ = strconv.ParseUint(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
	}
	total := w*uint64(Nano) + f
	if total > math.MaxInt64 {
		return 0, fmt.Errorf("invalid amount of credits %q: too large", s)
	}
	return Credits(total), nil
}
