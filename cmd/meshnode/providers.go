package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/internal/idref"
	"github.com/computemesh/computemesh/job"
	"github.com/spf13/cobra"
)

// meshFlags adds the flags of commands that reach the mesh either through a
// running node's API (--data-dir) or through an ephemeral client node
// (--bootstrap).
func meshFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.String("data-dir", "", "data dir of a running node to go through")
	f.StringSlice("bootstrap", nil, "multiaddrs to join the mesh from with an ephemeral client node")
	f.String("network", "devnet", "network name (ephemeral client)")
	f.Bool("json", false, "print JSON instead of a table")
}

func newProviders() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "providers",
		Short: "Find providers through the DHT, with their verified capacity, price, score and RTT",
		Long: `Find providers through the DHT (the most specific capability key for the
filters), fetch and verify their signed capacity records, measure RTT, and list
them with price and score. Without --all only those that match are listed;
with it, the others too, with the reason they do not match.`,
		Args: cobra.NoArgs,
		RunE: runProviders,
	}
	f := cmd.Flags()
	f.Int("gpus", 0, "GPUs needed")
	f.String("gpu-model", "", "GPU model, e.g. h100 (a model key or glob)")
	f.String("min-vram", "", "VRAM each GPU must have, e.g. 24GiB")
	f.String("cpus", "", "cores needed")
	f.String("memory", "", "memory needed, e.g. 8GiB")
	f.String("region", "", "region glob, e.g. 'eu-*'")
	f.String("executor", "", "executor, e.g. wasm")
	f.Bool("all", false, "also list providers that do not match, with the reason")
	meshFlags(cmd)
	return cmd
}

func runProviders(cmd *cobra.Command, _ []string) error {
	if err := applyConfig(cmd); err != nil {
		return err
	}
	f := cmd.Flags()
	var need job.Need
	var err error
	need.GPUs, _ = f.GetInt("gpus")
	need.GPUModel, _ = f.GetString("gpu-model")
	need.Region, _ = f.GetString("region")
	need.Executor, _ = f.GetString("executor")
	if s, _ := f.GetString("min-vram"); s != "" {
		if need.MinVRAM, err = job.ParseSize(s); err != nil {
			return usageErr("--min-vram: %v", err)
		}
	}
	if s, _ := f.GetString("cpus"); s != "" {
		if need.CPUMillis, err = job.ParseCPUs(s); err != nil {
			return usageErr("--cpus: %v", err)
		}
	}
	if s, _ := f.GetString("memory"); s != "" {
		if need.MemoryBytes, err = job.ParseSize(s); err != nil {
			return usageErr("--memory: %v", err)
		}
	}
	if need.GPUs < 0 || need.GPUs > job.MaxGPUs {
		return usageErr("--gpus: want 0 to %d", job.MaxGPUs)
	}
	if err := job.ValidateRegionGlob(need.Region); err != nil {
		return usageErr("--region: %v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	access, err := reachMesh(ctx, cmd)
	if err != nil {
		return err
	}
	defer access.Close()
	var found []api.ProviderInfo
	if access.api != nil {
		if found, err = access.api.Providers(ctx, need); err != nil {
			return netErr(err)
		}
	} else {
		found = access.node.FindProviders(ctx, need)
	}
	all, _ := f.GetBool("all")
	shown := found[:0:0]
	for _, p := range found {
		if all || (p.Error == "" && p.Mismatch == "" && p.Unreachable == "") {
			shown = append(shown, p)
		}
	}
	slices.SortFunc(shown, func(a, b api.ProviderInfo) int { return strings.Compare(a.Peer, b.Peer) })
	if asJSON, _ := f.GetBool("json"); asJSON {
		return json.NewEncoder(cmd.OutOrStdout()).Encode(struct {
			Providers []api.ProviderInfo `json:"providers"`
			Summary   string             `json:"summary"`
		}{shown, api.Mismatches(found)})
	}
	printProviders(cmd.OutOrStdout(), shown)
	fmt.Fprintln(cmd.ErrOrStderr(), api.Mismatches(found))
	return nil
}

func printProviders(w io.Writer, ps []api.ProviderInfo) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PEER\tREGION\tCPU\tMEMORY\tGPUS\tCREDITS/CORE-H\tCARBON (g/kWh)\tSCORE (MB/s)\tRTT\tNOTE")
	now := time.Now()
	for _, p := range ps {
		if p.Record == nil {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\t-\t-\t-\t%s\n", short(p.Peer), p.Error)
			continue
		}
		r := p.Record
		note := p.Mismatch
		if p.Unreachable != "" {
			note = strings.TrimPrefix(note+"; unreachable (left?)", "; ")
		}
		if r.Simulated {
			note = strings.TrimPrefix(note+"; simulated", "; ")
		}
		rtt := "-"
		if p.RTT > 0 {
			rtt = fmt.Sprintf("%.2fms", float64(p.RTT)/1e6)
		}
		fmt.Fprintf(tw, "%s\t%s\t%g\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", short(p.Peer), r.Region,
			float64(r.Total.CPUMillis)/1000, job.FormatSize(r.Total.MemoryBytes), gpuSummary(r.GPUs),
			r.Rates.CPUHour, providerCarbon(r, now), strconv.FormatFloat(r.Score.HashMBps, 'f', 0, 64), rtt, note)
	}
	tw.Flush()
}

// gpuSummary formats GPUs as "8x H100 80GB HBM3 (80GiB)".
func gpuSummary(gpus []job.GPU) string {
	if len(gpus) == 0 {
		return "-"
	}
	counts := map[string]int{}
	var order []string
	for _, g := range gpus {
		k := g.Model + " (" + job.FormatSize(g.VRAMBytes) + ")"
		if counts[k] == 0 {
			order = append(order, k)
		}
		counts[k]++
	}
	var parts []string
	for _, k := range order {
		parts = append(parts, fmt.Sprintf("%dx %s", counts[k], k))
	}
	return strings.Join(parts, ", ")
}

func newChallenge() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "challenge PEER_ID",
		Short: "Check a provider's claimed benchmark score on a fresh random seed",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := applyConfig(cmd); err != nil {
				return err
			}
			ref := strings.TrimSpace(args[0]) // a peer ID, its short form or a unique prefix
			if strings.ContainsAny(ref, "<>") {
				return usageErr("peer ID %q is a placeholder: put a provider's ID (meshnode providers lists them) in its place", ref)
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			access, err := reachMesh(ctx, cmd)
			if err != nil {
				return err
			}
			defer access.Close()
			var res api.ChallengeResult
			if access.api != nil {
				res, err = access.api.Challenge(ctx, ref)
			} else if p, rerr := access.node.ResolvePeer(ctx, ref); rerr != nil {
				err = rerr
			} else {
				res, err = access.node.Challenge(ctx, p)
			}
			if errors.Is(err, idref.ErrNoMatch) || errors.Is(err, idref.ErrAmbiguous) || errors.Is(err, api.ErrNotFound) {
				return &exitError{code: exitUsage, err: err}
			}
			if err != nil {
				return netErr(err)
			}
			if asJSON, _ := cmd.Flags().GetBool("json"); asJSON {
				_ = json.NewEncoder(cmd.OutOrStdout()).Encode(res)
			} else {
				verdict := "PASSED"
				if !res.Passed {
					verdict = "FAILED"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s: %s\n", short(res.Peer), verdict, res.Reason)
			}
			if !res.Passed {
				return silentExit(exitJobFailed)
			}
			return nil
		},
	}
	meshFlags(cmd)
	return cmd
}
