package main

import (
	"encoding/json"
	"fmt"

	"github.com/computemesh/computemesh/sim"
	"github.com/spf13/cobra"
)

func newSimGreen() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "green",
		Short: "Simulate green placement: emissions and cost of policies cost, green, balanced with carbon, and green with deferral",
		Long: `Drive the real scheduler code over a simulated mesh in virtual time whose
providers declare their carbon intensity hour by hour from a synthetic regional
trace (each region's mean with a solar dip around its local noon, a factor per
provider, hourly noise; the forecasts are the trace itself). A day's stream of
jobs runs at each load under policy cost, green, balanced with a carbon weight
(cost, latency and carbon equal) and green with deferral (a share of the jobs
may start up to --defer after they arrive and wait for the greenest hour).

It prints, per load and policy, the jobs done, their emissions and what they
saved against policy cost, their credits against cost's, the mean time from
arrival to result, the mean deferral and queue wait. A run repeats exactly for
a given seed.`,
		Args: cobra.NoArgs,
		RunE: runSimGreen,
	}
	def := sim.DefaultGreenConfig()
	f := cmd.Flags()
	f.String("data", "", "folder of the WonderProxy CSV files (default: shared/data beside the checkout or a parent folder if there, else the table built in)")
	f.Int("providers", def.Providers, "simulated providers")
	f.String("loads", joinList(def.Loads), "loads (offered work / the mesh's speed-weighted cores), comma-separated")
	f.Duration("span", def.Span, "how long jobs arrive")
	f.Duration("run", def.Run, "each job's expected run time on the reference machine")
	f.Duration("defer", def.Defer, "green+defer: the deferrable jobs' deadline after their arrival")
	f.Float64("deferrable", def.Deferrable, "green+defer: the share of jobs that may wait")
	f.Uint64("seed", def.Seed, "random seed: the same seed gives the same run")
	f.Bool("json", false, "print the results as one JSON array")
	return cmd
}

func runSimGreen(cmd *cobra.Command, _ []string) error {
	f := cmd.Flags()
	cfg := sim.DefaultGreenConfig()
	cfg.Providers, _ = f.GetInt("providers")
	cfg.Span, _ = f.GetDuration("span")
	cfg.Run, _ = f.GetDuration("run")
	cfg.Defer, _ = f.GetDuration("defer")
	cfg.Deferrable, _ = f.GetFloat64("deferrable")
	cfg.Seed, _ = f.GetUint64("seed")
	loads, _ := f.GetString("loads")
	var err error
	if cfg.Loads, err = floatList(loads); err != nil {
		return usageErr("--loads: %v", err)
	}
	topo, _, err := simTopology(f)
	if err != nil {
		return err
	}
	rs, err := sim.RunGreen(cmd.Context(), topo, cfg)
	if err != nil {
		return usageErr("%v", err)
	}
	out := cmd.OutOrStdout()
	if asJSON, _ := f.GetBool("json"); asJSON {
		return json.NewEncoder(out).Encode(rs)
	}
	fmt.Fprintf(out, "%d providers in %d cities, %d-core jobs of %v expected arriving over %v, seed %d (synthetic intensity trace)\n\n",
		cfg.Providers, len(topo.Cities), cfg.Cores, cfg.Run, cfg.Span, cfg.Seed)
	return sim.WriteGreenTable(out, rs)
}
