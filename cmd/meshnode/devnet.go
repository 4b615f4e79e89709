package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/computemesh/computemesh/testnet"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// devnetScenarios are the testnet scenarios that make sense for local
// processes (partition and nat need networks to cut: the docker testnet).
func devnetScenarios() []string { return []string{"smoke", "kill", "latency", "bootstrap-loss"} }

func newDevnet() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "devnet",
		Short: "Run the testnet's topology as local processes on 127.0.0.1 (no Docker), and its scenarios",
		Long: `Start the testnet's topology as local meshnode processes on 127.0.0.1: two
bootstrap nodes (fixed test identities, relay service), --nodes providers (the
docker testnet's six in turn: CPU-only and simulated GPUs, four regions,
different prices) and one client, each with its data dir and log under --dir.

Without --scenario it prints the nodes and runs until interrupted; drive it
with 'meshnode submit --data-dir DIR/client ...'. With --scenario it runs the
named scenarios (` + strings.Join(devnetScenarios(), ", ") + `), prints PASS or FAIL for
each with the figure it checked, stops the nodes and exits 1 if any failed.
partition and nat need docker networks: testnet/run.sh.`,
		Args: cobra.NoArgs,
		RunE: runDevnet,
	}
	f := cmd.Flags()
	f.Int("nodes", 6, "providers to start (the scenarios need the first six)")
	f.String("dir", "", "directory of the nodes' data dirs and logs (default: a new temporary one)")
	f.StringSlice("scenario", nil, "scenarios to run, comma-separated: "+strings.Join(devnetScenarios(), ", ")+" or all")
	f.Int("parallel", 16, "smoke: jobs in flight at once")
	return cmd
}

func runDevnet(cmd *cobra.Command, _ []string) error {
	if err := applyConfig(cmd); err != nil {
		return err
	}
	f := cmd.Flags()
	n, _ := f.GetInt("nodes")
	dir, _ := f.GetString("dir")
	parallel, _ := f.GetInt("parallel")
	scenarios, err := devnetScenarioFlags(f, n)
	if err != nil {
		return err
	}
	bin, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding the meshnode binary: %w", err)
	}
	if dir == "" {
		if dir, err = os.MkdirTemp("", "meshnode-devnet-"); err != nil {
			return err
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	out := cmd.OutOrStdout()
	nodes := testnet.LocalNodes(n)
	fmt.Fprintf(out, "starting %d nodes under %s ...\n", len(nodes), dir)
	l, err := testnet.StartLocal(ctx, bin, dir, nodes)
	if err != nil {
		return netErr(fmt.Errorf("devnet: %w (logs under %s)", err, dir))
	}
	defer l.Close()
	ids, err := testnet.PeerIDs(ctx, l)
	if err != nil {
		return netErr(err)
	}
	printDevnetNodes(out, nodes, ids, dir)
	if len(scenarios) == 0 {
		fmt.Fprintf(out, "\nready: every provider found through the DHT, the client funded. Try:\n  meshnode submit --data-dir %s/client --wasm %s -- hi\n  meshnode status --data-dir %s/client --providers\nCtrl-C stops every node.\n",
			dir, l.JobPath(testnet.HelloModule), dir)
		<-ctx.Done()
		return nil
	}
	if failed := runDevnetScenarios(ctx, out, l, scenarios, parallel); failed > 0 {
		fmt.Fprintf(out, "logs of every node are under %s\n", dir)
		return silentExit(exitJobFailed)
	}
	return nil
}

// devnetScenarioFlags checks --nodes and returns the scenarios --scenario
// names ("all": every one).
func devnetScenarioFlags(f *pflag.FlagSet, n int) ([]string, error) {
	scenarios, _ := f.GetStringSlice("scenario")
	scenarios = splitList(scenarios)
	if n < 1 || n > 200 {
		return nil, usageErr("--nodes: want 1 to 200 providers")
	}
	if slices.Contains(scenarios, "all") {
		scenarios = devnetScenarios()
	}
	for _, s := range scenarios {
		if !slices.Contains(devnetScenarios(), s) {
			return nil, usageErr("--scenario %s: unknown or not for local processes (known: %s; partition and nat: testnet/run.sh)", s, strings.Join(devnetScenarios(), ", "))
		}
	}
	if len(scenarios) > 0 && n < 6 {
		return nil, usageErr("--scenario needs --nodes 6 or more (the scenarios use the testnet's six providers)")
	}
	return scenarios, nil
}

// printDevnetNodes prints a table of the devnet's nodes.
func printDevnetNodes(out io.Writer, nodes []testnet.Node, ids map[string]string, dir string) {
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tROLE\tPEER\tREGION\tCREDITS/CORE-H\tGPU\tDATA DIR")
	for _, nd := range nodes {
		gpu := nd.GPU
		if gpu != "" {
			gpu += " (simulated) at " + nd.GPUPrice + "/h"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s/%s\n", nd.Name, nd.Role, short(ids[nd.Name]), dashIfEmpty(nd.Region), dashIfEmpty(nd.CPUPrice), dashIfEmpty(gpu), dir, nd.Name)
	}
	tw.Flush()
}

// runDevnetScenarios runs the scenarios, printing each one's details and
// verdict, and returns how many failed.
func runDevnetScenarios(ctx context.Context, out io.Writer, l *testnet.Local, scenarios []string, parallel int) int {
	failed := 0
	for _, s := range scenarios {
		var ck *testnet.Check
		switch s {
		case "smoke":
			ck = testnet.Smoke(ctx, l, "client", parallel)
		case "kill":
			ck = testnet.Kill(ctx, l, "client")
		case "latency":
			ck = testnet.Latency(ctx, l, l, "client")
		case "bootstrap-loss":
			ck = testnet.BootstrapLoss(ctx, l, "client")
		}
		for _, d := range ck.Details {
			fmt.Fprintln(out, "  "+d)
		}
		fmt.Fprintln(out, ck)
		if !ck.Pass {
			failed++
		}
	}
	return failed
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
