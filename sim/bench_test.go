package sim

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkQuality runs the schedule-quality simulation on the real RTT
// data set (skipped without it) and reports computemesh's ratios to the
// omniscient scheduler at each load. The full benchmark of issue #5 is
// `meshnode sim` (20,000 jobs per load); this one is smaller.
//
//	COMPUTEMESH_SIM_DATA=../shared/data go test ./sim -run '^$' -bench Quality -benchtime 1x
func BenchmarkQuality(b *testing.B) {
	topo, err := LoadTopology(realData(b))
	if err != nil {
		b.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Jobs = 5000
	var rep *Report
	for b.Loop() {
		if rep, err = Run(context.Background(), topo, cfg); err != nil {
			b.Fatal(err)
		}
	}
	for _, r := range rep.Results {
		if r.Scheduler != Computemesh {
			continue
		}
		load := fmt.Sprintf("@%.0f%%", r.Load*100)
		b.ReportMetric(r.Ratio.Cost, "cost×"+load)
		b.ReportMetric(r.Ratio.RTT, "rtt×"+load)
		b.ReportMetric(r.Ratio.CompletionMean, "mean×"+load)
	}
}
