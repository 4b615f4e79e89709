package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/node"
	"github.com/spf13/cobra"
)

func newStatus() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show a running node's health: peers, connections, relay and hole punching, providers per region, jobs",
		Long: `Ask a running node (through its API) how it stands: its peers and
connections (direct or relayed), relayed addresses and hole punching when it is
behind NAT, the jobs it runs or submitted, and with --providers the providers
it finds through the DHT, per region.

Exit codes: 0 the node answers and has at least --min-peers peers (and, with
--min-providers, finds that many); 4 otherwise. Containers use it as their
healthcheck.`,
		Args: cobra.NoArgs,
		RunE: runStatus,
	}
	f := cmd.Flags()
	f.String("data-dir", defaultDataDir(), "data dir of the running node")
	f.Int("min-peers", 0, "unhealthy (exit 4) with fewer connected peers than this")
	f.Bool("providers", false, "also find the providers through the DHT and count them per region")
	f.Int("min-providers", 0, "unhealthy (exit 4) when fewer providers are found (implies --providers)")
	f.Duration("timeout", 10*time.Second, "how long to wait for the node's answers")
	f.Bool("json", false, "print one JSON object instead of text")
	return cmd
}

// statusReport is the --json form of status.
type statusReport struct {
	Node      api.Info           `json:"node"`
	Jobs      map[string]int     `json:"jobs"` // this node's job records by state
	Providers []api.ProviderInfo `json:"providers,omitempty"`
	Regions   map[string]int     `json:"regions,omitempty"` // providers found per region
	Healthy   bool               `json:"healthy"`
	Problem   string             `json:"problem,omitempty"`
}

func runStatus(cmd *cobra.Command, _ []string) error {
	if err := applyConfig(cmd); err != nil {
		return err
	}
	f := cmd.Flags()
	dataDir, _ := f.GetString("data-dir")
	minPeers, _ := f.GetInt("min-peers")
	minProviders, _ := f.GetInt("min-providers")
	withProviders, _ := f.GetBool("providers")
	withProviders = withProviders || minProviders > 0
	timeout, _ := f.GetDuration("timeout")
	asJSON, _ := f.GetBool("json")
	ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
	defer cancel()
	c, err := api.Dial(dataDir)
	if err != nil {
		return netErr(err)
	}
	var r statusReport
	if r.Node, err = c.Info(ctx); err != nil {
		return netErr(fmt.Errorf("asking the node at %s: %w", dataDir, err))
	}
	jobs, err := c.Jobs(ctx)
	if err != nil {
		return netErr(fmt.Errorf("listing jobs: %w", err))
	}
	r.Jobs = map[string]int{}
	for _, j := range jobs {
		r.Jobs[string(j.State)]++
	}
	if withProviders {
		if r.Providers, err = c.Providers(ctx, job.Need{}); err != nil {
			return netErr(fmt.Errorf("finding providers: %w", err))
		}
		r.Regions = map[string]int{}
		for _, p := range r.Providers {
			if p.Record != nil {
				r.Regions[p.Record.Region]++
			}
		}
	}
	switch found := len(r.Regions); {
	case r.Node.Peers < minPeers:
		r.Problem = fmt.Sprintf("%d peers connected, want at least %d (--min-peers)", r.Node.Peers, minPeers)
	case minProviders > 0 && sum(r.Regions) < minProviders:
		r.Problem = fmt.Sprintf("%d providers found in %d regions, want at least %d (--min-providers)", sum(r.Regions), found, minProviders)
	}
	r.Healthy = r.Problem == ""
	out := cmd.OutOrStdout()
	if asJSON {
		if err := json.NewEncoder(out).Encode(r); err != nil {
			return err
		}
	} else {
		printStatus(out, &r)
	}
	if !r.Healthy {
		return &exitError{code: exitNetwork, err: fmt.Errorf("unhealthy: %s", r.Problem)}
	}
	return nil
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func printStatus(w io.Writer, r *statusReport) {
	in := &r.Node
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "node\t%s (%s on %s)\n", in.PeerID, in.Mode, in.Network)
	if in.Region != "" {
		fmt.Fprintf(tw, "region\t%s\n", in.Region)
	}
	for i, a := range in.Addrs { // what others dial: --bootstrap takes one
		label := ""
		if i == 0 {
			label = "addresses"
		}
		if !strings.Contains(a, "/p2p/") {
			a += "/p2p/" + in.PeerID
		}
		fmt.Fprintf(tw, "%s\t%s\n", label, a)
	}
	if in.API != "" {
		fmt.Fprintf(tw, "api\t%s\n", in.API)
	}
	fmt.Fprintf(tw, "peers\t%d (connections: %d direct, %d relayed)\n", in.Peers, in.Conns.Direct, in.Conns.Relayed)
	if in.RelayService {
		fmt.Fprintf(tw, "relay\tserves peers behind NAT\n")
	}
	for i, a := range in.Relayed {
		label := ""
		if i == 0 {
			label = "relayed at"
		}
		fmt.Fprintf(tw, "%s\t%s\n", label, a)
	}
	hp := in.HolePunch
	state := "inactive (no public address)"
	if hp.Active {
		state = "active"
	}
	fmt.Fprintf(tw, "hole punching\t%s: %d started, %d succeeded, %d failed\n", state, hp.Started, hp.Succeeded, hp.Failed)
	if in.Mode == node.ModeProvider {
		fmt.Fprintf(tw, "running\t%d jobs (%d queued), free %s\n", in.Running, in.Queued, in.Free)
		if in.Draining {
			fmt.Fprintf(tw, "draining\ttaking no new jobs; the node stops once its running jobs have finished\n")
		}
	}
	if len(r.Jobs) > 0 {
		var parts []string
		for _, s := range slices.Sorted(maps.Keys(r.Jobs)) {
			parts = append(parts, fmt.Sprintf("%s %d", s, r.Jobs[s]))
		}
		fmt.Fprintf(tw, "submitted jobs\t%s\n", strings.Join(parts, ", "))
	}
	if r.Regions != nil {
		var parts []string
		for _, reg := range slices.Sorted(maps.Keys(r.Regions)) {
			parts = append(parts, fmt.Sprintf("%s %d", reg, r.Regions[reg]))
		}
		fmt.Fprintf(tw, "providers\t%d found: %s\n", sum(r.Regions), strings.Join(parts, ", "))
	}
	health := "healthy"
	if !r.Healthy {
		health = "UNHEALTHY: " + r.Problem
	}
	fmt.Fprintf(tw, "health\t%s\n", health)
	tw.Flush()
}
