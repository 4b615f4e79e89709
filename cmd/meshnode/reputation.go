package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/computemesh/computemesh/api"
	"github.com/spf13/cobra"
)

func newReputation() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "reputation",
		Short: "Show a running node's view of each provider it has used: outcomes, replica mismatches, challenges, start delay, score",
		Long: `Show what the running node of --data-dir has seen of each provider as a
client: jobs completed, failed (died, fell silent or could not run after
accepting), timed out, outputs in a replicated job's minority, hardware
challenges passed and failed, the mean delay from award to start, and the
score (0 to 1; a newcomer starts at 0.5) that submit --min-reputation filters
on.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := dialNode(cmd)
			if err != nil {
				return err
			}
			list, err := c.Reputations(cmd.Context())
			if err != nil {
				return netErr(err)
			}
			out := cmd.OutOrStdout()
			if asJSON, _ := cmd.Flags().GetBool("json"); asJSON {
				if list == nil {
					list = []api.Reputation{}
				}
				return json.NewEncoder(out).Encode(list)
			}
			if len(list) == 0 {
				fmt.Fprintln(out, "no providers used yet")
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PROVIDER\tSCORE\tCOMPLETED\tFAILED\tTIMED OUT\tMISMATCHES\tCHALLENGES (PASS/FAIL)\tMEAN START\tRECEIPTS")
			for _, r := range list {
				fmt.Fprintf(tw, "%s\t%.2f\t%d\t%d\t%d\t%d\t%d/%d\t%.1fms\t%d\n", short(r.Provider), r.Score, r.Completed, r.Failed,
					r.TimedOut, r.Mismatches, r.ChallengePass, r.ChallengeFails, r.MeanStartMS, r.Receipts)
			}
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.String("data-dir", defaultDataDir(), "data dir of the running node")
	f.Bool("json", false, "print one JSON array instead of a table")
	return cmd
}
