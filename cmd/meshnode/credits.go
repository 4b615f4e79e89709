package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/internal/testfaucet"
	"github.com/computemesh/computemesh/ledger"
	"github.com/computemesh/computemesh/node"
	"github.com/spf13/cobra"
)

func newCredits() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "credits",
		Short: "Show a running node's balance (granted + earned − spent) and its recent receipts",
		Long: `Show the balance of the running node of --data-dir as its own ledger derives
it from the signed receipts and grants it holds: granted, earned, spent and
the balance, in credits, and its most recent receipts.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := dialNode(cmd)
			if err != nil {
				return err
			}
			recent, _ := cmd.Flags().GetInt("recent")
			cr, err := c.Credits(cmd.Context(), recent)
			if err != nil {
				return netErr(err)
			}
			out := cmd.OutOrStdout()
			if asJSON, _ := cmd.Flags().GetBool("json"); asJSON {
				b := cr.Balance
				return json.NewEncoder(out).Encode(map[string]any{
					"peer": cr.Peer, "balance": b.Balance.String(), "earned": b.Earned.String(), "spent": b.Spent.String(),
					"granted": b.Granted.String(), "balance_nano": b.Balance, "receipts": cr.Receipts, "ledger": cr.Ledger,
					"pending_in": b.PendingIn.String(), "pending_out": b.PendingOut.String(),
				})
			}
			b := cr.Balance
			fmt.Fprintf(out, "peer %s\nbalance %s credits (granted %s + earned %s − spent %s), %d receipts\n",
				cr.Peer, b.Balance, b.Granted, b.Earned, b.Spent, b.Receipts)
			if b.Pending > 0 {
				// A receipt counts once its payer's earlier ones count and
				// its payer covers it (docs/ARCHITECTURE.md, "Credits").
				fmt.Fprintf(out, "pending: %d receipts that do not count yet: %s credits to come in, %s to go out\n",
					b.Pending, b.PendingIn, b.PendingOut)
			}
			fmt.Fprintf(out, "ledger: %d receipts (%d counted), %d grants, %d peers, %d fraudulent payers\n",
				cr.Ledger.Receipts, cr.Ledger.Counted, cr.Ledger.Grants, cr.Ledger.Peers, cr.Ledger.FraudulentPayers)
			if len(cr.Receipts) == 0 {
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TIME\tJOB\tATTEMPT\tPAYER\tPAYEE\tAMOUNT (credits)\tSEQ")
			for _, r := range cr.Receipts {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%d\n", time.UnixMilli(r.TimeMS).Format(time.DateTime), short(r.Job),
					r.Attempt, short(r.Payer), short(r.Payee), r.Amount, r.Seq)
			}
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.String("data-dir", defaultDataDir(), "data dir of the running node")
	f.Int("recent", 20, "how many recent receipts to show")
	f.Bool("json", false, "print one JSON object: balance, earned, spent (credits) and recent receipts")
	return cmd
}

func newLedger() *cobra.Command {
	cmd := &cobra.Command{Use: "ledger", Short: "Inspect a node's ledger of receipts and grants"}
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Re-check every stored receipt, grant and fraud proof (signatures, conflicts, balances)",
		Long: `Re-check every record of the ledger of --data-dir as if it came from the
network: signatures, networks, double spends, and that the balances it gives
are the live ones. Through the running node when one runs there; otherwise
the ledger is opened directly, offline: its network and faucet are read
from its log (--network, --faucet or --test-faucet for a log written before
it named its faucet). Exits 1 when a record is wrong.`,
		Args: cobra.NoArgs,
		RunE: runLedgerVerify,
	}
	f := verify.Flags()
	f.String("data-dir", defaultDataDir(), "the node's data dir")
	f.String("network", "", "the ledger's network, when no node runs there (default: the one its log names)")
	f.String("faucet", "", "the network's faucet peer, when no node runs there (default: the one its log names; give it for a ledger written before logs named it)")
	f.Bool("test-faucet", false, "the network's faucet is the test faucet (see --faucet)")
	f.Bool("json", false, "print the report as JSON")
	cmd.AddCommand(verify)
	return cmd
}

func runLedgerVerify(cmd *cobra.Command, _ []string) error {
	if err := applyConfig(cmd); err != nil {
		return err
	}
	dataDir, _ := cmd.Flags().GetString("data-dir")
	var rep ledger.Report
	c, err := api.Dial(dataDir)
	switch {
	case err == nil:
		rep, err = c.VerifyLedger(cmd.Context())
		if err != nil && !errors.Is(err, api.ErrNoNode) {
			return netErr(err)
		}
	case !errors.Is(err, api.ErrNoNode):
		return netErr(err)
	}
	if c == nil || err != nil { // no node runs there: open the ledger itself
		if rep, err = verifyLedgerOffline(cmd, dataDir); err != nil {
			return err
		}
	}
	out := cmd.OutOrStdout()
	if asJSON, _ := cmd.Flags().GetBool("json"); asJSON {
		if err := json.NewEncoder(out).Encode(rep); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(out, "%d records (%d receipts, %d grants, %d fraud proofs, %d duplicates), %d bytes; %d fraudulent payers\n",
			rep.Records, rep.Receipts, rep.Grants, rep.FraudProofs, rep.Duplicates, rep.Bytes, len(rep.FraudulentPayers))
		for _, p := range rep.Problems {
			fmt.Fprintf(out, "problem at offset %d: %s\n", p.Offset, p.Err)
		}
	}
	if len(rep.Problems) > 0 {
		return &exitError{code: exitJobFailed, err: fmt.Errorf("%d problems in the ledger", len(rep.Problems))}
	}
	if len(rep.Problems) == 0 && !cmd.Flags().Changed("json") {
		fmt.Fprintln(out, "every record verifies")
	}
	return nil
}

// verifyLedgerOffline opens the ledger of dataDir itself (no node runs
// there) and verifies it: its network and faucet come from its log unless
// the flags say otherwise.
func verifyLedgerOffline(cmd *cobra.Command, dataDir string) (ledger.Report, error) {
	dir := filepath.Join(dataDir, "ledger")
	network, faucet, err := ledger.ReadHeader(dir)
	if err != nil {
		return ledger.Report{}, usageErr("%v", err)
	}
	if cmd.Flags().Changed("network") {
		network, _ = cmd.Flags().GetString("network")
	}
	if cmd.Flags().Changed("faucet") {
		faucet, _ = cmd.Flags().GetString("faucet")
	}
	if tf, _ := cmd.Flags().GetBool("test-faucet"); tf {
		faucet = testfaucet.ID
	}
	opt := ledger.WithNetwork(network)
	if faucet != "" {
		opt = ledger.WithFaucet(network, faucet)
	}
	l, err := ledger.Open(dir, opt, ledger.WithVerifier(node.VerifySignature))
	if err != nil {
		return ledger.Report{}, usageErr("%v", err)
	}
	defer l.Close()
	rep, err := l.Verify()
	if err != nil {
		return ledger.Report{}, usageErr("%v", err)
	}
	return rep, nil
}
