package job

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Intensity is the carbon intensity of a provider's power in grams of
// CO₂-equivalent per kilowatt-hour (gCO₂e/kWh), a whole number. 0 means
// not declared. Intensities are self-declared, like regions: nothing
// measures them (docs/SECURITY.md).
type Intensity int

// MaxIntensity bounds a declared intensity: above any grid's (a coal
// plant's is about 1000 gCO₂e/kWh). A record or bid past it is malformed.
const MaxIntensity Intensity = 5000

// Validate checks that i is 0 (not declared) or 1 to MaxIntensity.
func (i Intensity) Validate() error {
	if i < 0 || i > MaxIntensity {
		return fmt.Errorf("%d gCO2e/kWh is out of range (0 to %d)", i, MaxIntensity)
	}
	return nil
}

// String formats i for people, e.g. "120 g/kWh"; "-" when not declared.
func (i Intensity) String() string {
	if i <= 0 {
		return "-"
	}
	return strconv.Itoa(int(i)) + " g/kWh"
}

// Carbon is a mass of CO₂-equivalent emissions, in micrograms: a small
// job's are milligrams.
type Carbon int64

// Units of Carbon.
const (
	Microgram Carbon = 1
	Milligram Carbon = 1000
	Gram      Carbon = 1000 * Milligram
	Kilogram  Carbon = 1000 * Gram
)

// MaxCarbon bounds Spec.MaxCarbon: a thousand tonnes.
const MaxCarbon = 1_000_000 * Kilogram

// String formats c for people in the largest unit below it, e.g.
// "1.25 mg", "3.4 g", "12 kg".
func (c Carbon) String() string {
	switch {
	case c < Milligram:
		return strconv.FormatInt(int64(c), 10) + " µg"
	case c < Gram:
		return trimFloat(float64(c)/float64(Milligram)) + " mg"
	case c < Kilogram:
		return trimFloat(float64(c)/float64(Gram)) + " g"
	}
	return trimFloat(float64(c)/float64(Kilogram)) + " kg"
}

// trimFloat formats v with three significant figures at most (whole
// numbers from 100 on), without trailing zeros.
func trimFloat(v float64) string {
	prec := 2
	if v >= 100 {
		prec = 0
	} else if v >= 10 {
		prec = 1
	}
	s := strconv.FormatFloat(v, 'f', prec, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// ParseCarbon parses an amount of CO₂e such as "2g", "500 mg", "1.5kg" or
// "300µg" (a bare number is grams). It must be above 0 and at most
// MaxCarbon.
func ParseCarbon(s string) (Carbon, error) {
	t := strings.TrimSpace(s)
	unit := Gram
	for _, u := range []struct {
		suffix string
		unit   Carbon
	}{{"kg", Kilogram}, {"mg", Milligram}, {"µg", Microgram}, {"ug", Microgram}, {"g", Gram}} {
		if rest, ok := strings.CutSuffix(t, u.suffix); ok {
			t, unit = strings.TrimSpace(rest), u.unit
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("invalid amount of CO2e %q: want a number and a unit (µg, mg, g, kg), e.g. 2g", s)
	}
	c := v * float64(unit)
	if c < 1 || c > float64(MaxCarbon) {
		return 0, fmt.Errorf("amount of CO2e %q is out of range (1 µg to %s)", s, MaxCarbon)
	}
	return Carbon(math.Round(c)), nil
}

// The energy model: what a job is taken to draw while it runs, from what
// it reserves. Typical server figures at load: a core 10 W, a data-centre
// GPU 300 W (an A100's board power; an H100 SXM's is up to 700 W), memory
// 0.4 W per GiB. The facility's overhead (PUE) is not counted: a
// provider's declared intensity may include it.
const (
	WattsPerCore = 10.0
	WattsPerGPU  = 300.0
	WattsPerGiB  = 0.4
)

// Watts is the power a job reserving r is taken to draw.
func Watts(r Resources) float64 {
	return float64(r.CPUMillis)/1000*WattsPerCore + float64(r.GPUs)*WattsPerGPU +
		float64(r.MemoryBytes)/(1<<30)*WattsPerGiB
}

// Energy is the energy, in watt-hours, of a job reserving r for d.
func Energy(r Resources, d time.Duration) float64 { return Watts(r) * d.Hours() }

// Emissions are the emissions of wh watt-hours at intensity i: 0 when i
// is not declared.
func Emissions(wh float64, i Intensity) Carbon {
	if i <= 0 || wh <= 0 {
		return 0
	}
	// wh/1000 kWh × i g/kWh × 10⁶ µg/g.
	return Carbon(math.Round(wh * float64(i) * 1000))
}

// ExpectedRun is the job's expected run time for its energy: ExpectedMS
// when given, else its timeout (the most it may run). It is not scaled
// by a provider's benchmark score: what a faster machine draws per core
// is not known.
func (s *Spec) ExpectedRun() time.Duration {
	if s.ExpectedMS > 0 {
		return time.Duration(s.ExpectedMS) * time.Millisecond
	}
	return s.Timeout()
}

// Energy is the job's expected energy in watt-hours (Energy over
// ExpectedRun).
func (s *Spec) Energy() float64 { return Energy(s.Resources, s.ExpectedRun()) }

// CarbonRun is the run providers quote their carbon intensity for: the
// Request.Run of the job's request (its expected run time when it weighs
// carbon and has one, else its timeout).
func (s *Spec) CarbonRun() time.Duration {
	r := Request{ExpectedMS: carbonRunMS(s), TimeoutMS: s.TimeoutMS}
	return r.Run()
}

// WeighsCarbon reports whether the job's placement weighs carbon: policy
// green, a max carbon, or a carbon weight. Such a job's request says its
// expected run time (Request.ExpectedMS), for which providers quote their
// intensity.
func (s *Spec) WeighsCarbon() bool {
	return s.Policy == PolicyGreen || s.MaxCarbon > 0 || s.Weights.Carbon > 0
}

// IntensityOver is the intensity declared for a run of d from at by a
// constant intensity (carbon) and an hourly forecast (f, may be nil): the
// mean of the hours the run spans, each the forecast's where it covers the
// hour and carbon elsewhere (an hour neither declares is left out). 0
// when nothing is declared for any of them.
func IntensityOver(carbon Intensity, f *Forecast, at time.Time, d time.Duration) Intensity {
	sum, n := 0, 0
	eachHour(at, d, func(h time.Time) {
		if v := hourly(carbon, f, h); v > 0 {
			sum, n = sum+int(v), n+1
		}
	})
	if n == 0 {
		return 0
	}
	return Intensity((sum + n/2) / n)
}

// IntensityRange is the least and most intensity declared for any hour
// from from to to (0, 0 when none is).
func IntensityRange(carbon Intensity, f *Forecast, from, to time.Time) (lo, hi Intensity) {
	eachHour(from, to.Sub(from), func(h time.Time) {
		if v := hourly(carbon, f, h); v > 0 {
			if lo == 0 || v < lo {
				lo = v
			}
			hi = max(hi, v)
		}
	})
	return lo, hi
}

// hourly is the intensity declared for the hour starting at h.
func hourly(carbon Intensity, f *Forecast, h time.Time) Intensity {
	if v, ok := f.At(h); ok {
		return v
	}
	return carbon
}

// maxRunHours bounds the hours eachHour visits (a run is at most a day).
const maxRunHours = 50

// eachHour calls fn with the start of every hour a span of d from at
// touches (at least at's own hour).
func eachHour(at time.Time, d time.Duration, fn func(h time.Time)) {
	h := at.Truncate(time.Hour)
	end := at.Add(max(d, 0))
	for i := 0; i < maxRunHours; i++ {
		fn(h)
		h = h.Add(time.Hour)
		if !h.Before(end) {
			return
		}
	}
}

// IntensityOver is the intensity c declares for a run of d from at (see
// the function IntensityOver).
func (c *Capacity) IntensityOver(at time.Time, d time.Duration) Intensity {
	return IntensityOver(c.Carbon, c.Forecast, at, d)
}
