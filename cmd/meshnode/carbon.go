package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/job"
)

// providerCarbon is a provider's CARBON column: the intensity its record
// declares for the hour now, and, with a forecast, its least and most over
// the forecast's hours to come ("120 (40-300 fc)"); "-" when none.
func providerCarbon(r *job.Capacity, now time.Time) string {
	v := r.IntensityOver(now, 0)
	if v == 0 {
		return "-"
	}
	s := strconv.Itoa(int(v))
	if r.Forecast != nil {
		if lo, hi := job.IntensityRange(0, r.Forecast, now, r.Forecast.End().Add(-time.Nanosecond)); hi > 0 {
			s += fmt.Sprintf(" (%d-%d fc)", lo, hi)
		}
	}
	return s
}

// carbonSummary is a provider's carbon line at start, e.g. "120 g/kWh
// now; forecast to 2026-03-03T12:00:00Z, 40 to 300 g/kWh".
func carbonSummary(r *job.Capacity, now time.Time) string {
	s := r.IntensityOver(now, 0).String() + " now"
	if f := r.Forecast; f != nil {
		lo, hi := job.IntensityRange(0, f, f.Start(), f.End().Add(-time.Nanosecond))
		s += fmt.Sprintf("; forecast to %s, %d to %s", f.End().Format(time.RFC3339), lo, hi)
	} else if r.Carbon == 0 {
		s += " (the forecast is stale: nothing declared)"
	}
	return s + " (self-declared)"
}

// marketCarbon is a market class's CARBON column: the p10 and median of
// the intensities its bids declared, with how many did ("40/120 of 12").
func marketCarbon(r api.Rate) string {
	if r.CarbonBids == 0 {
		return "-"
	}
	return fmt.Sprintf("%d/%d of %d", r.CarbonP10, r.CarbonMedian, r.CarbonBids)
}

// describeCarbon is job describe's Carbon line of a finished job: the
// run's estimated emissions, the intensity its provider declared and what
// the job draws by the energy model; "" when no intensity was declared.
func describeCarbon(o *job.Outcome, s *job.Spec) string {
	if o == nil || o.Carbon == 0 {
		return ""
	}
	return fmt.Sprintf("%s CO2e by estimate: %s declared by the provider for the run (self-declared), the job drawing %.3g W by the energy model",
		o.Emissions, o.Carbon, job.Watts(s.Resources))
}
