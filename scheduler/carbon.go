package scheduler

import (
	"fmt"
	"time"

	"github.com/computemesh/computemesh/job"
)

// UndeclaredIntensity is what a bid that declares no carbon intensity
// counts as under policy balanced's carbon weight — about a coal-fired
// grid's, or the worst intensity declared among the bids when that is
// worse — so that leaving it out never pays. Policy green ranks such bids
// after every bid that declares one.
const UndeclaredIntensity job.Intensity = 1000

// carbonSkew is how far from the client's now a provider may have priced
// its bid's intensity (clocks, the bid's age): CarbonFollows accepts the
// mean its record gives for a start within it.
const carbonSkew = 5 * time.Minute

// CarbonFollows is the feasibility check of a bid's carbon intensity
// against its bidder's signed capacity record: a provider quotes the mean
// of the hours the run spans from its now, so a bid must quote a mean its
// record gives for a start within carbonSkew of the client's now — not
// any value between the run's cleanest and dirtiest hours, which would let
// one clean hour stand for a dirty run. A bid that declares none passes
// (it only ranks last under policy green); so does one from a bidder
// whose record the client does not hold (record returns nil), but as
// declaring none: what nothing signed backs counts for nothing (its
// Carbon is cleared).
func CarbonFollows(record func(provider string) *job.Capacity, now time.Time, run time.Duration) Check {
	return Check{job.RejectCarbon, func(b *job.Bid) string {
		if b.Carbon == 0 {
			return ""
		}
		rec := record(b.Provider)
		if rec == nil {
			b.Carbon = 0
			return ""
		}
		lo, hi := meansOver(rec, now.Add(-carbonSkew), now.Add(carbonSkew), run)
		switch {
		case hi == 0:
			return fmt.Sprintf("carbon intensity %s, but its capacity record declares none", b.Carbon)
		case b.Carbon < lo || b.Carbon > hi:
			return fmt.Sprintf("carbon intensity %s does not follow from its capacity record (%s to %s for the run, from a start within %v of now)", b.Carbon, lo, hi, carbonSkew)
		}
		return ""
	}}
}

// meansOver is the least and most of rec's mean intensity over a run of
// run starting anywhere from from to to. The mean changes only where the
// run's start or end crosses an hour, so it is taken at the span's ends
// and on both sides of each such crossing.
func meansOver(rec *job.Capacity, from, to time.Time, run time.Duration) (lo, hi job.Intensity) {
	starts := []time.Time{from, to}
	for _, shift := range []time.Duration{0, run} { // the start, the end crossing an hour
		for h := from.Add(shift).Truncate(time.Hour).Add(time.Hour); !h.After(to.Add(shift)); h = h.Add(time.Hour) {
			starts = append(starts, h.Add(-shift), h.Add(-shift-time.Nanosecond))
		}
	}
	for _, at := range starts {
		if at.Before(from) || at.After(to) {
			continue
		}
		v := rec.IntensityOver(at, run)
		if v == 0 {
			continue
		}
		if lo == 0 || v < lo {
			lo = v
		}
		hi = max(hi, v)
	}
	return lo, hi
}

// MaxCarbon is the carbon filter of a job with a max carbon (s.MaxCarbon;
// 0 passes every bid): a bid on which the job's estimated emissions —
// its energy (s.Energy) at the bid's intensity — pass the max is
// rejected, and so is one that declares no intensity (nothing says it is
// under the max).
func MaxCarbon(s *job.Spec) Check {
	wh := s.Energy()
	return Check{job.RejectMaxCarbon, func(b *job.Bid) string {
		if s.MaxCarbon <= 0 {
			return ""
		}
		if b.Carbon == 0 {
			return fmt.Sprintf("declares no carbon intensity (the job's max carbon is %s)", s.MaxCarbon)
		}
		if e := job.Emissions(wh, b.Carbon); e > s.MaxCarbon {
			return fmt.Sprintf("estimated emissions %s (%s at %s) are over the max carbon %s", e, fmtWh(wh), b.Carbon, s.MaxCarbon)
		}
		return ""
	}}
}

// fmtWh formats an energy for people, e.g. "2.8 Wh".
func fmtWh(wh float64) string {
	switch {
	case wh >= 1000:
		return fmt.Sprintf("%.3g kWh", wh/1000)
	case wh >= 1:
		return fmt.Sprintf("%.3g Wh", wh)
	}
	return fmt.Sprintf("%.3g mWh", wh*1000)
}

// noteEmissions sets each option's Emissions: the job's energy (wh) at
// the bid's intensity (0 when it declares none).
func noteEmissions(opts []Option, wh float64) {
	for i := range opts {
		opts[i].Emissions = job.Emissions(wh, opts[i].Bid.Carbon)
	}
}

// scoreGreen is policy green's score: an option's estimated emissions in
// µg, unrounded (the job's energy, wh, at its intensity: the same energy
// everywhere, so the lowest intensity wins), after every option that
// declares an intensity when it declares none (ties go by price: compare).
func scoreGreen(o *Option, wh float64) float64 {
	if o.Bid.Carbon == 0 {
		return unknownLatency
	}
	return max(wh, 1e-9) * float64(o.Bid.Carbon) * 1000
}

// carbonTerms returns, for policy balanced, each option's emissions over
// the least of any option's, an undeclared intensity counting as
// UndeclaredIntensity or the worst declared, whichever is worse.
func carbonTerms(opts []Option) []float64 {
	worst := UndeclaredIntensity
	for i := range opts {
		worst = max(worst, opts[i].Bid.Carbon)
	}
	best, terms := job.Intensity(0), make([]float64, len(opts))
	for i := range opts {
		c := opts[i].Bid.Carbon
		if c == 0 {
			c = worst
		}
		terms[i] = float64(c)
		if best == 0 || c < best {
			best = c
		}
	}
	for i := range terms {
		terms[i] /= float64(best)
	}
	return terms
}

// whyGreen explains ranked[i]'s place under policy green.
func whyGreen(ranked []Option, i int) string {
	o := &ranked[i]
	if o.Bid.Carbon == 0 {
		s := fmt.Sprintf("declares no carbon intensity (ranked after those that do); price %s", o.Bid.Price)
		if i+1 < len(ranked) {
			s += fmt.Sprintf(" (next %s)", ranked[i+1].Bid.Price)
		}
		return s
	}
	s := fmt.Sprintf("lowest estimated emissions %s at %s", o.Emissions, o.Bid.Carbon)
	if i+1 < len(ranked) {
		n := &ranked[i+1]
		if n.Bid.Carbon == 0 {
			s += " (next declares none)"
		} else {
			s += fmt.Sprintf(" (next %s at %s)", n.Emissions, n.Bid.Carbon)
		}
	}
	return s + fmt.Sprintf(", price %s", o.Bid.Price)
}

// MaxDeferHours bounds how far ahead GreenestStart looks: a week.
const MaxDeferHours = 7 * 24

// GreenStart is the planned start of a deferrable job (GreenestStart).
type GreenStart struct {
	// At is when to start: from, or a greener whole hour after it.
	At time.Time
	// Intensity is the least intensity a record declares for the run from
	// At, and Provider whose record declares it; Now is the least for the
	// run from from (0: nothing declared).
	Intensity job.Intensity
	Provider  string
	Now       job.Intensity
}

// GreenestStart plans the start of a job that may wait (issue #19): among
// from and every whole hour after it up to latest, the start for which
// the least intensity any of records declares for a run of run
// (Capacity.IntensityOver) is least — the earliest of equals, so that a
// job waits only for a strictly greener hour. Hours past the end of every
// record's forecast are not considered (only constants are declared
// there, the same at every hour). Give it the records of the providers
// that can serve the job.
func GreenestStart(records []*job.Capacity, run time.Duration, from, latest time.Time) GreenStart {
	best := func(at time.Time) (job.Intensity, string) {
		var least job.Intensity
		var who string
		for _, rec := range records {
			if v := rec.IntensityOver(at, run); v > 0 && (least == 0 || v < least || v == least && rec.Peer < who) {
				least, who = v, rec.Peer
			}
		}
		return least, who
	}
	var horizon time.Time
	for _, rec := range records {
		if rec.Forecast != nil && rec.Forecast.End().After(horizon) {
			horizon = rec.Forecast.End()
		}
	}
	g := GreenStart{At: from}
	g.Intensity, g.Provider = best(from)
	g.Now = g.Intensity
	h := from.Truncate(time.Hour).Add(time.Hour)
	for n := 0; n < MaxDeferHours && !h.After(latest) && h.Before(horizon); n, h = n+1, h.Add(time.Hour) {
		if v, who := best(h); v > 0 && (g.Intensity == 0 || v < g.Intensity) {
			g.At, g.Intensity, g.Provider = h, v, who
		}
	}
	return g
}
