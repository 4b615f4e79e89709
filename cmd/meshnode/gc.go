package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/node"
	"github.com/computemesh/computemesh/store"
	"github.com/spf13/cobra"
)

func newGC() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Collect the node's content store: drop the blobs nothing keeps, and print what was freed",
		Long: `Collect the content store of --data-dir. Pinned blobs ('meshnode add'), the
outputs of the jobs whose records are kept (the last 1000 finished), the inputs
of unfinished jobs, and blobs used in the last 10 minutes are kept; a provider's
outputs go once their client's grant has expired (plus 10 minutes); the rest go
once unused for --store-retention, then the least recently used while the
store is over --store-max.

The running node of --data-dir collects (with its own --store-max and
--store-retention: the flags here are ignored); when none runs there, the
store is collected directly with the flags here. A node also collects by
itself every 10 minutes.`,
		Args: cobra.NoArgs,
		RunE: runGC,
	}
	f := cmd.Flags()
	f.String("data-dir", defaultDataDir(), "data dir whose store is collected (its node running or not)")
	f.Bool("dry-run", false, "only report what would be freed")
	f.Bool("json", false, "print the report as one JSON object instead of a table")
	f.String("store-max", job.FormatSize(store.DefaultMaxBytes), "with no running node: the store's size limit")
	f.Duration("store-retention", store.DefaultMaxAge, "with no running node: drop blobs unused this long")
	return cmd
}

func runGC(cmd *cobra.Command, _ []string) error {
	if err := applyConfig(cmd); err != nil {
		return err
	}
	f := cmd.Flags()
	dataDir, _ := f.GetString("data-dir")
	dryRun, _ := f.GetBool("dry-run")
	var r store.Retention
	v, _ := f.GetString("store-max")
	size, err := job.ParseSize(v)
	if err != nil || size == 0 || size > 1<<50 {
		return usageErr("--store-max: %q is not a size between 1B and 1PiB (e.g. 10GiB)", v)
	}
	r.MaxBytes = int64(size)
	if r.MaxAge, _ = f.GetDuration("store-retention"); r.MaxAge <= 0 {
		return usageErr("--store-retention: %v, must be positive (e.g. 168h)", r.MaxAge)
	}

	var rep *api.GCReport
	c, err := api.Dial(dataDir)
	switch {
	case err == nil:
		rep, err = c.GC(cmd.Context(), dryRun)
		if err == nil || !errors.Is(err, api.ErrNoNode) { // stale address file: nobody answers
			break
		}
		fallthrough
	case errors.Is(err, api.ErrNoNode):
		if _, serr := os.Stat(dataDir); serr != nil {
			return netErr(fmt.Errorf("no running node and no data dir at %s: %v", dataDir, serr))
		}
		rep, err = node.GCDataDir(dataDir, r, dryRun)
	}
	if err != nil {
		return netErr(err)
	}
	out := cmd.OutOrStdout()
	if asJSON, _ := f.GetBool("json"); asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printGC(out, rep, time.Now())
	return nil
}

// printGC prints a collection's report for people.
func printGC(w io.Writer, rep *api.GCReport, now time.Time) {
	verb := "freed"
	if rep.DryRun {
		verb = "would free"
	}
	fmt.Fprintf(w, "store: %d blobs, %s (%d pinned or referenced); %s %d blobs, %s",
		rep.Blobs, job.FormatSize(uint64(rep.Bytes)), rep.Protected, verb, len(rep.Freed), job.FormatSize(uint64(rep.FreedBytes)))
	if rep.TempFiles > 0 {
		fmt.Fprintf(w, ", and %d temporary files", rep.TempFiles)
	}
	fmt.Fprintln(w)
	if rep.OverMax {
		fmt.Fprintln(w, "warning: the store is still over its size limit: what is left is pinned, referenced or in use")
	}
	if len(rep.Freed) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CID\tSIZE\tUNUSED FOR\tREASON")
	for _, d := range rep.Freed {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", d.CID, job.FormatSize(uint64(d.Size)), age(now.Sub(d.Used)), d.Reason)
	}
	tw.Flush()
}
