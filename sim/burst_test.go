package sim

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"
	"time"
)

func smallBurst() BurstConfig {
	c := DefaultBurstConfig()
	c.Providers, c.Loads = 10, []float64{0.5, 2}
	c.Deadlines, c.MaxWaits = []time.Duration{2 * time.Minute}, []time.Duration{5 * time.Second}
	return c
}

// byVariant returns the result of load's batch under variant.
func byVariant(t *testing.T, rep *BurstReport, load float64, variant string) BurstResult {
	t.Helper()
	for _, r := range rep.Results {
		if r.Load == load && r.Variant == variant {
			return r
		}
	}
	t.Fatalf("no result for load %g, variant %s", load, variant)
	return BurstResult{}
}

// Under the cost policy alone a batch queues on the cheapest providers;
// under a deadline or a batch's wait bound it spreads over more of them
// and ends sooner, every job completed.
func TestBurstSpreads(t *testing.T) {
	cfg := smallBurst()
	rep, err := RunBurst(context.Background(), SyntheticTopology(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != len(cfg.Loads)*3 {
		t.Fatalf("%d results, want %d", len(rep.Results), len(cfg.Loads)*3)
	}
	for _, load := range cfg.Loads {
		cheapest := byVariant(t, rep, load, VariantCheapest)
		for _, v := range []string{VariantDeadline, VariantMaxWait} {
			t.Run(v, func(t *testing.T) {
				r := byVariant(t, rep, load, v)
				if r.Completed != r.Jobs || r.Unscheduled != 0 || cheapest.Completed != cheapest.Jobs {
					t.Fatalf("load %g: %+v; cheapest %+v: want every job completed", load, r, cheapest)
				}
				if r.Providers <= cheapest.Providers || r.Makespan >= cheapest.Makespan {
					t.Fatalf("load %g: %s used %d providers, makespan %.0fs; the cheapest %d, %.0fs: want more providers, a shorter makespan",
						load, v, r.Providers, r.Makespan, cheapest.Providers, cheapest.Makespan)
				}
				if r.Makespan < r.Ideal || r.CostMean <= 0 {
					t.Fatalf("load %g: implausible figures %+v", load, r)
				}
			})
		}
	}
	var table bytes.Buffer
	if err := WriteBurstTable(&table, rep); err != nil {
		t.Fatal(err)
	}
	if strings.Count(table.String(), "\n") != len(rep.Results)+1 || !strings.Contains(table.String(), "deadline 2m0s") {
		t.Errorf("table:\n%s", table.String())
	}
}

// A deadline the mesh cannot meet leaves jobs unscheduled at it, rather
// than queued past it; every job is accounted for.
func TestBurstDeadlineTooShort(t *testing.T) {
	cfg := smallBurst()
	cfg.Loads, cfg.Deadlines, cfg.MaxWaits = []float64{4}, []time.Duration{30 * time.Second}, nil
	rep, err := RunBurst(context.Background(), SyntheticTopology(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := byVariant(t, rep, 4, VariantDeadline)
	if r.Unscheduled == 0 || r.Completed == 0 || r.Completed+r.Unscheduled != r.Jobs {
		t.Fatalf("%+v: want some completed, some unscheduled, all accounted for", r)
	}
	if c := byVariant(t, rep, 4, VariantCheapest); c.Completed != c.Jobs {
		t.Fatalf("cheapest: %+v: want every job completed (no deadline)", c)
	}
}

func TestBurstDeterministic(t *testing.T) {
	a, err := RunBurst(context.Background(), SyntheticTopology(), smallBurst())
	if err != nil {
		t.Fatal(err)
	}
	b, err := RunBurst(context.Background(), SyntheticTopology(), smallBurst())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("two runs with one seed differ:\n%+v\n%+v", a.Results, b.Results)
	}
}

func TestBurstConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(c *BurstConfig)
		wantErr string
	}{
		{"default", func(*BurstConfig) {}, ""},
		{"no providers", func(c *BurstConfig) { c.Providers = 0 }, "providers:"},
		{"no loads", func(c *BurstConfig) { c.Loads = nil }, "loads:"},
		{"bad load", func(c *BurstConfig) { c.Loads = []float64{1, 0} }, "loads[1]:"},
		{"run too short", func(c *BurstConfig) { c.Run = time.Millisecond }, "run:"},
		{"no window", func(c *BurstConfig) { c.Window = 0 }, "max_queue, max_auctions, window, backoff:"},
		{"a zero deadline", func(c *BurstConfig) { c.Deadlines = []time.Duration{0} }, "deadlines and max waits:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultBurstConfig()
			tt.edit(&c)
			err := c.Validate()
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.wantErr)) {
				t.Fatalf("Validate() = %v, want %q", err, tt.wantErr)
			}
		})
	}
}
