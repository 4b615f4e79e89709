package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/computemesh/computemesh/sim"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func newSim() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Simulate schedule quality: computemesh's auction against random, power-of-two and omniscient",
		Long: `Drive the real scheduler code over a simulated mesh in virtual time and compare
four schedulers on the same job stream: computemesh's auction (gossiped request,
bids from scheduler.Admit with queue waits, scheduler.Evaluate under each job's
policy, award with late binding and failover), random choice, power-of-two-choices
and an omniscient centralised scheduler with exact knowledge. Links take the
measured inter-city RTTs of the shared data set (WonderProxy pings).

It prints, per load and scheduler, cost per job, RTT to the chosen provider and
mean and p99 completion time, each also as a ratio (×) to the omniscient
scheduler's. A run repeats exactly for a given seed.`,
		Args: cobra.NoArgs,
		RunE: runSim,
	}
	def := sim.DefaultConfig()
	f := cmd.Flags()
	f.String("data", "", "folder of the WonderProxy CSV files (default: shared/data beside the checkout or a parent folder if there, else the table built in)")
	f.Int("providers", def.Providers, "simulated providers")
	f.Int("clients", def.Clients, "simulated clients")
	f.Int("jobs", def.Jobs, "jobs in each load's stream")
	f.String("loads", "0.5,0.8,0.95", "offered loads (offered work / capacity), comma-separated")
	f.String("policy", def.Policy, "the jobs' policy: mixed (40% latency, 30% cost, 30% balanced), cost, latency or balanced")
	f.Uint64("seed", def.Seed, "random seed: the same seed gives the same run")
	f.Int("max-queue", def.MaxQueue, "awarded jobs that may wait at one provider")
	f.Duration("window", def.Window, "auction deadline (bid window)")
	f.Bool("json", false, "print the report as one JSON object")
	f.String("plot", "", "write a PNG chart of the ratios to this file")
	cmd.AddCommand(newSimBurst())
	cmd.AddCommand(newSimGreen())
	return cmd
}

func runSim(cmd *cobra.Command, _ []string) error {
	if err := applyConfig(cmd); err != nil {
		return err
	}
	f := cmd.Flags()
	cfg := sim.DefaultConfig()
	cfg.Providers, _ = f.GetInt("providers")
	cfg.Clients, _ = f.GetInt("clients")
	cfg.Jobs, _ = f.GetInt("jobs")
	cfg.Policy, _ = f.GetString("policy")
	cfg.Seed, _ = f.GetUint64("seed")
	cfg.MaxQueue, _ = f.GetInt("max-queue")
	cfg.Window, _ = f.GetDuration("window")
	loads, _ := f.GetString("loads")
	cfg.Loads = nil
	for i, s := range strings.Split(loads, ",") {
		l, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return usageErr("--loads: item %d: %q is not a number", i+1, s)
		}
		cfg.Loads = append(cfg.Loads, l)
	}
	if err := cfg.Validate(); err != nil {
		return usageErr("%v", err)
	}
	topo, source, err := simTopology(f)
	if err != nil {
		return err
	}
	rep, err := sim.Run(cmd.Context(), topo, cfg)
	if err != nil {
		return err
	}
	if path, _ := f.GetString("plot"); path != "" {
		var buf bytes.Buffer
		if err := sim.Plot(&buf, rep); err != nil {
			return fmt.Errorf("plot: %w", err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("plot: %w", err)
		}
	}
	out := cmd.OutOrStdout()
	if asJSON, _ := f.GetBool("json"); asJSON {
		return json.NewEncoder(out).Encode(rep)
	}
	fmt.Fprintf(out, "%d providers, %d clients in %d cities (%d city pairs estimated; RTTs from %s), %d jobs per load, policy %s, seed %d\n\n",
		cfg.Providers, cfg.Clients, rep.Cities, rep.FilledPairs, source, cfg.Jobs, cfg.Policy, cfg.Seed)
	return sim.WriteTable(out, rep)
}

// simTopology loads the RTT table: --data's folder when given, else the
// shared data set beside the checkout (or a parent folder) when there, else
// the table built into the binary (sim.LoadEmbedded: the same figures). It
// returns where the table came from.
func simTopology(f *pflag.FlagSet) (*sim.Topology, string, error) {
	dir, _ := f.GetString("data")
	if dir == "" {
		if wd, err := os.Getwd(); err == nil {
			dir = sim.FindData(wd)
		}
	}
	if dir == "" {
		topo, err := sim.LoadEmbedded()
		return topo, sim.EmbeddedSource, err
	}
	topo, err := sim.LoadTopology(dir)
	if err != nil {
		return nil, "", usageErr("--data: %v", err)
	}
	return topo, dir, nil
}
