package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/computemesh/computemesh/internal/testfaucet"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/node"
	"github.com/spf13/cobra"
)

func newGrant() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "grant",
		Short: "Sign a credit grant with a faucet key and hand it to a running node, which keeps and gossips it",
		Long: `Sign a grant of --amount credits to --to with the faucet key of the network
(--faucet-key FILE in 'meshnode identity export' format, or --test-faucet on a
test network) and hand it to the running node of --data-dir, which adds it to
its ledger and gossips it. Nodes count only grants signed by the faucet their
network names (start --faucet), so a grant signed by any other key creates
nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := cmd.Flags()
			to, _ := f.GetString("to")
			amountS, _ := f.GetString("amount")
			amount, err := job.ParseCredits(amountS)
			if err != nil || amount <= 0 {
				return usageErr("--amount: %q is not a positive amount of credits", amountS)
			}
			var key []byte
			path, _ := f.GetString("faucet-key")
			test, _ := f.GetBool("test-faucet")
			switch {
			case path != "" && test:
				return usageErr("--faucet-key and --test-faucet: give one")
			case test:
				key = testfaucet.Key()
			case path != "":
				if key, err = os.ReadFile(path); err != nil {
					return usageErr("--faucet-key: %v", err)
				}
			default:
				return usageErr("no faucet key: give --faucet-key FILE or --test-faucet")
			}
			c, err := dialNode(cmd)
			if err != nil {
				return err
			}
			info, err := c.Info(cmd.Context())
			if err != nil {
				return netErr(err)
			}
			if to == "" {
				to = info.PeerID
			}
			g, err := node.SignGrant(key, info.Network, to, amount)
			if err != nil {
				return usageErr("%v", err)
			}
			if err := c.AddGrant(cmd.Context(), g); err != nil {
				return usageErr("%v", err)
			}
			if asJSON, _ := f.GetBool("json"); asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(g)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "granted %s credits to %s on network %s (nonce %s)\n", amount, to, info.Network, g.Nonce)
			return nil
		},
	}
	f := cmd.Flags()
	f.String("data-dir", defaultDataDir(), "data dir of the running node that keeps and gossips the grant")
	f.String("to", "", "peer ID to credit (default: that node)")
	f.String("amount", "", "credits to grant, e.g. 100")
	f.String("faucet-key", "", "the faucet's key, in 'meshnode identity export' format")
	f.Bool("test-faucet", false, "sign with the test networks' public faucet key")
	f.Bool("json", false, "print the signed grant as JSON")
	return cmd
}
