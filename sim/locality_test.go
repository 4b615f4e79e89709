package sim

import (
	"context"
	"strings"
	"testing"
)

// Bids that say how much of a job's input their provider holds send jobs
// to their data under the latency policy: more of them run where their
// input is, and they finish sooner, than with blind bids, the more so the
// larger the input.
func TestLocality(t *testing.T) {
	rs, err := RunLocality(context.Background(), SyntheticTopology(), DefaultLocalityConfig()) // docs/BENCHMARKS.md
	if err != nil {
		t.Fatal(err)
	}
	var table strings.Builder
	if err := WriteLocalityTable(&table, rs); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", table.String())
	for i := 0; i+1 < len(rs); i += 2 {
		aware, blind := rs[i], rs[i+1]
		if aware.Done != aware.Jobs || blind.Done != blind.Jobs {
			t.Fatalf("jobs lost: %d/%d aware, %d/%d blind", aware.Done, aware.Jobs, blind.Done, blind.Jobs)
		}
		if aware.Size < 1<<30 {
			continue // a small input is worth no detour
		}
		if aware.AtHolder <= blind.AtHolder || aware.Mean >= blind.Mean {
			t.Fatalf("%d bytes: aware %.0f %% at the data, mean %v; blind %.0f %%, %v", aware.Size, 100*aware.AtHolder, aware.Mean, 100*blind.AtHolder, blind.Mean)
		}
	}
}
