package sim

import (
	"context"
	"strings"
	"testing"
)

// Green placement (issue #19) on a day's stream with the regional
// intensity trace: policy green, and balanced with a carbon weight, emit
// less than policy cost at every load, what it costs in credits and time
// in the table (docs/BENCHMARKS.md); every job is done (of the deferrable
// ones, a few may miss their deadline while every client waits for the
// same green hours: they end unscheduled, as they would).
func TestGreen(t *testing.T) {
	rs, err := RunGreen(context.Background(), SyntheticTopology(), DefaultGreenConfig()) // docs/BENCHMARKS.md
	if err != nil {
		t.Fatal(err)
	}
	var table strings.Builder
	if err := WriteGreenTable(&table, rs); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", table.String())
	cost := map[float64]GreenResult{}
	for _, r := range rs {
		switch {
		case r.Jobs == 0:
			t.Fatalf("%.0f %% %s: no jobs", 100*r.Load, r.Variant)
		case r.Variant != GreenDefer && r.Done != r.Jobs, r.Variant == GreenDefer && r.Done < r.Jobs*95/100:
			t.Fatalf("%.0f %% %s: %d of %d jobs done", 100*r.Load, r.Variant, r.Done, r.Jobs)
		case r.Variant == GreenCost:
			cost[r.Load] = r
		case r.Emissions >= cost[r.Load].Emissions:
			t.Errorf("%.0f %% %s: emissions %s, policy cost's %s: want less", 100*r.Load, r.Variant, r.Emissions, cost[r.Load].Emissions)
		}
	}
}
