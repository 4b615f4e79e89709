package api

import "github.com/computemesh/computemesh/job"

// Rate is the going rate of one resource class over a window (GET
// /v1/market): percentiles of the rates in the bids a node heard, in
// nano-credits per hour.
type Rate struct {
	Class     string      `json:"class"` // "cpu-core-hour", "gpu-hour" or "gpu-hour:<model>"
	Bids      int         `json:"bids"`
	Providers int         `json:"providers"`
	Regions   []string    `json:"regions"`
	P10       job.Credits `json:"p10_nano"`
	Median    job.Credits `json:"median_nano"`
	P90       job.Credits `json:"p90_nano"`
	// CarbonP10 and CarbonMedian are percentiles of the carbon intensity
	// declared in the class's bids (gCO₂e/kWh; 0 when none declares one);
	// CarbonBids counts the bids that declare one.
	CarbonBids   int           `json:"carbon_bids,omitempty"`
	CarbonP10    job.Intensity `json:"carbon_p10,omitempty"`
	CarbonMedian job.Intensity `json:"carbon_median,omitempty"`
}
