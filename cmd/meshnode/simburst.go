package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/computemesh/computemesh/sim"
	"github.com/spf13/cobra"
)

func newSimBurst() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "burst",
		Short: "Simulate a batch burst under the cost policy: cheapest alone, under a deadline, under a wait bound",
		Long: `Drive the real scheduler code over a simulated mesh in virtual time: one client
submits a batch of identical one-core jobs at once under the cost policy, at most
--max-auctions auctions at a time, and each variant places the same batch on a
fresh mesh: the policy alone (cheapest), under each --deadline (bids that would
start a job after it are rejected; a job still unplaced at it ends unscheduled),
and under each --max-wait (a batch's soft bound: bids that would wait longer
rank last). A bid's wait counts the client's own unfinished awards there, as
the real client's does.

It prints, per load and variant, the jobs completed and unscheduled, the
makespan (submission to the last result) beside a bound no placement beats,
the mean completion, the cost per job (× the cheapest variant's), how many
providers ran jobs and the most one of them ran. A run repeats exactly for a
given seed.`,
		Args: cobra.NoArgs,
		RunE: runSimBurst,
	}
	def := sim.DefaultBurstConfig()
	f := cmd.Flags()
	f.String("data", "", "folder of the WonderProxy CSV files (default: shared/data beside the checkout or a parent folder if there, else the table built in)")
	f.Int("providers", def.Providers, "simulated providers")
	f.String("loads", joinList(def.Loads), "batch sizes as loads: load × the mesh's speed-weighted cores jobs, comma-separated")
	f.Duration("run", def.Run, "each job's expected run time on the reference machine")
	f.String("deadlines", joinList(def.Deadlines), "deadline variants, comma-separated (from the batch's submission)")
	f.String("max-waits", joinList(def.MaxWaits), "soft wait bound variants, comma-separated")
	f.Int("max-queue", def.MaxQueue, "awarded jobs that may wait at one provider")
	f.Int("max-auctions", def.MaxAuctions, "auctions the client runs at once")
	f.Duration("window", def.Window, "auction deadline (bid window; doubled after a round that placed nothing)")
	f.Uint64("seed", def.Seed, "random seed: the same seed gives the same run")
	f.Bool("json", false, "print the report as one JSON object")
	return cmd
}

func runSimBurst(cmd *cobra.Command, _ []string) error {
	f := cmd.Flags()
	cfg := sim.DefaultBurstConfig()
	cfg.Providers, _ = f.GetInt("providers")
	cfg.Run, _ = f.GetDuration("run")
	cfg.MaxQueue, _ = f.GetInt("max-queue")
	cfg.MaxAuctions, _ = f.GetInt("max-auctions")
	cfg.Window, _ = f.GetDuration("window")
	cfg.Seed, _ = f.GetUint64("seed")
	var err error
	loads, _ := f.GetString("loads")
	if cfg.Loads, err = floatList(loads); err != nil {
		return usageErr("--loads: %v", err)
	}
	deadlines, _ := f.GetString("deadlines")
	if cfg.Deadlines, err = durationList(deadlines); err != nil {
		return usageErr("--deadlines: %v", err)
	}
	waits, _ := f.GetString("max-waits")
	if cfg.MaxWaits, err = durationList(waits); err != nil {
		return usageErr("--max-waits: %v", err)
	}
	if err := cfg.Validate(); err != nil {
		return usageErr("%v", err)
	}
	topo, _, err := simTopology(f)
	if err != nil {
		return err
	}
	rep, err := sim.RunBurst(cmd.Context(), topo, cfg)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if asJSON, _ := f.GetBool("json"); asJSON {
		return json.NewEncoder(out).Encode(rep)
	}
	fmt.Fprintf(out, "%d providers in %d cities, one client, one-core jobs of %v expected, cost policy, at most %d auctions at once, queues of %d, seed %d\n\n",
		cfg.Providers, len(topo.Cities), cfg.Run, cfg.MaxAuctions, cfg.MaxQueue, cfg.Seed)
	return sim.WriteBurstTable(out, rep)
}

// floatList parses "0.5,1,2" ("" is none).
func floatList(s string) ([]float64, error) {
	var out []float64
	for i, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		v, err := strconv.ParseFloat(item, 64)
		if err != nil {
			return nil, fmt.Errorf("item %d: %q is not a number", i+1, item)
		}
		out = append(out, v)
	}
	return out, nil
}

// durationList parses "2m,5m" ("" is none).
func durationList(s string) ([]time.Duration, error) {
	var out []time.Duration
	for i, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		d, err := time.ParseDuration(item)
		if err != nil {
			return nil, fmt.Errorf("item %d: %q is not a duration", i+1, item)
		}
		out = append(out, d)
	}
	return out, nil
}

// joinList writes a list as its flag takes it.
func joinList[T any](items []T) string {
	parts := make([]string, len(items))
	for i, v := range items {
		parts[i] = fmt.Sprint(v)
	}
	return strings.Join(parts, ",")
}
