package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/computemesh/computemesh/api"
	"github.com/spf13/cobra"
)

func newMarket() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "market",
		Short: "Show the going rates (p10, median, p90) per resource class in the bids a running node has heard",
		Long: `Show the going rates in the bids the running node of --data-dir has heard
over --window, per resource class: CPU per core-hour, and GPU per GPU-hour
(per model where the node knows the job). A node hears bids once it has
submitted a job (a client node from its start); asking makes it listen.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			window, _ := cmd.Flags().GetDuration("window")
			if window <= 0 {
				return usageErr("--window: must be positive")
			}
			c, err := dialNode(cmd)
			if err != nil {
				return err
			}
			rates, err := c.Market(cmd.Context(), window)
			if err != nil {
				return netErr(err)
			}
			out := cmd.OutOrStdout()
			if asJSON, _ := cmd.Flags().GetBool("json"); asJSON {
				if rates == nil {
					rates = []api.Rate{}
				}
				return json.NewEncoder(out).Encode(rates)
			}
			if len(rates) == 0 {
				fmt.Fprintf(out, "no bids heard in the last %v\n", window)
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CLASS\tBIDS\tPROVIDERS\tP10 (credits/h)\tMEDIAN\tP90\tCARBON P10/MEDIAN (g/kWh)\tREGIONS")
			for _, r := range rates {
				fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\n", r.Class, r.Bids, r.Providers, r.P10, r.Median, r.P90,
					marketCarbon(r), strings.Join(r.Regions, ","))
			}
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.String("data-dir", defaultDataDir(), "data dir of the running node")
	f.Duration("window", time.Hour, "how far back to look")
	f.Bool("json", false, "print one JSON array instead of a table")
	return cmd
}
