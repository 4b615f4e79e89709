package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/node"
	"github.com/spf13/cobra"
)

// jobsSource reaches the running node of --data-dir, or, when none runs
// there, reads its job records directly (c is nil then).
func jobsSource(cmd *cobra.Command) (c *api.Client, dataDir string, err error) {
	if err := applyConfig(cmd); err != nil {
		return nil, "", err
	}
	dataDir, _ = cmd.Flags().GetString("data-dir")
	c, err = api.Dial(dataDir)
	if err == nil {
		return c, dataDir, nil
	}
	if !errors.Is(err, api.ErrNoNode) {
		return nil, "", netErr(err)
	}
	if _, serr := os.Stat(dataDir); serr != nil {
		return nil, "", netErr(fmt.Errorf("no running node and no data dir at %s: %v", dataDir, serr))
	}
	return nil, dataDir, nil
}

func newJobs() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "jobs",
		Short: "List the jobs a node with a data dir submitted (running, waiting and the last 1000 finished)",
		Long: `List the jobs a node with a data dir submitted, newest first: the running
node of --data-dir answers through its API; when no node runs there, the job
records under <data-dir>/jobs are read directly.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, dataDir, err := jobsSource(cmd)
			if err != nil {
				return err
			}
			var list []api.JobSummary
			if c != nil {
				list, err = c.Jobs(cmd.Context())
			}
			if c == nil || errors.Is(err, api.ErrNoNode) { // stale address file: nobody answers
				var errs []error
				list, errs = node.ReadJobs(dataDir)
				for _, e := range errs {
					fmt.Fprintf(cmd.ErrOrStderr(), "warning: %v (skipped)\n", e)
				}
				err = nil
			}
			if err != nil {
				return netErr(err)
			}
			if dataDir == defaultDataDir() { // and the ephemeral clients' (ephemeral.go)
				list = append(list, ephemeralJobs()...)
				slices.SortStableFunc(list, func(a, b api.JobSummary) int { return b.Submitted.Compare(a.Submitted) })
			}
			out := cmd.OutOrStdout()
			if asJSON, _ := cmd.Flags().GetBool("json"); asJSON {
				if list == nil {
					list = []api.JobSummary{}
				}
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(list)
			}
			printJobs(out, list, time.Now())
			return nil
		},
	}
	f := cmd.Flags()
	f.String("data-dir", defaultDataDir(), "data dir of the node that submitted the jobs (running or not)")
	f.Bool("json", false, "print one JSON array instead of a table")
	return cmd
}

func printJobs(w io.Writer, list []api.JobSummary, now time.Time) {
	if len(list) == 0 {
		fmt.Fprintln(w, "no jobs")
		return
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tSTATE\tPROVIDER\tREGION\tCHARGE\tATTEMPTS\tAGE")
	for _, s := range list {
		prov, region, charge := "-", "-", "-"
		if s.Provider != "" {
			prov = short(s.Provider)
		}
		if s.Region != "" {
			region = s.Region
		}
		if s.Charge > 0 || s.State == job.StateCompleted {
			charge = s.Charge.String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", short(s.ID), s.State, prov, region, charge, s.Attempts, age(now.Sub(s.Submitted)))
	}
	_ = tw.Flush()
}

// age is a duration for humans: 42s, 5m, 3h, 2d.
func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(max(d, 0).Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

func newJob() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "job",
		Short: "Inspect one job a node with a data dir submitted",
		Args:  cobra.NoArgs,
	}
	describe := &cobra.Command{
		Use:               "describe JOB",
		ValidArgsFunction: completeJobs,
		Short:             "Show a job's spec, auction rounds, bids, rejections, attempts, winner, timings and charge",
		Long: `Show everything the node recorded of a job: the spec, each auction round with
its bids, declines and rejected providers (and why), each attempt (provider,
outcome, duration), the winner and why it won, the timings and the charge,
and replicas when there were any. JOB is the whole ID, a unique prefix, or the
short form the jobs table prints. The running node of --data-dir answers
through its API; when no node runs there, <data-dir>/jobs is read directly.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, dataDir, err := jobsSource(cmd)
			if err != nil {
				return err
			}
			var rec *api.JobRecord
			if c != nil {
				rec, err = c.Job(cmd.Context(), args[0])
			}
			if c == nil || errors.Is(err, api.ErrNoNode) {
				rec, err = node.ReadJob(dataDir, args[0])
			}
			if dataDir == defaultDataDir() && (errors.Is(err, api.ErrNotFound) || errors.Is(err, node.ErrUnknownJob)) {
				if r, eerr := ephemeralJob(args[0]); eerr == nil { // an ephemeral client's (ephemeral.go)
					rec, err = r, nil
				}
			}
			if err != nil {
				if errors.Is(err, api.ErrNotFound) || errors.Is(err, node.ErrUnknownJob) {
					return &exitError{code: exitUsage, err: err}
				}
				return netErr(err)
			}
			out := cmd.OutOrStdout()
			if asJSON, _ := cmd.Flags().GetBool("json"); asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(rec)
			}
			describeJob(out, rec, time.Now())
			return nil
		},
	}
	f := describe.Flags()
	f.String("data-dir", defaultDataDir(), "data dir of the node that submitted the job (running or not)")
	f.Bool("json", false, "print the whole record as JSON")
	cmd.AddCommand(describe)
	return cmd
}

// describeJob prints a job's record for humans.
func describeJob(w io.Writer, r *api.JobRecord, now time.Time) {
	describeHeader(w, r, now)
	describeRounds(w, r)
	describeAttempts(w, r)
	if r.Outcome == nil {
		describeTasks(w, r.Tasks, r.Spec.Count) // an array's tasks ended so far
		return
	}
	describeOutcome(w, r)
	describeTasks(w, r.Outcome.Tasks, r.Spec.Count)
}

// describeLine prints one labelled line of a job's description.
func describeLine(w io.Writer, label, format string, a ...any) {
	fmt.Fprintf(w, "%-11s%s\n", label, fmt.Sprintf(format, a...))
}

// localClock formats t in local time, to the second.
func localClock(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05") }

// describeHeader prints the job's identity, state, spec and options.
func describeHeader(w io.Writer, r *api.JobRecord, now time.Time) {
	s := &r.Spec
	describeLine(w, "Job", "%s", r.ID)
	if s.Name != "" {
		describeLine(w, "Name", "%s", s.Name)
	}
	state := string(r.State)
	if r.Resumes > 0 {
		state += fmt.Sprintf(" (resumed after %d client restart(s))", r.Resumes)
	}
	describeLine(w, "State", "%s", state)
	describeLine(w, "Submitted", "%s (%s ago)", localClock(r.Submitted), age(now.Sub(r.Submitted)))
	if !r.Finished.IsZero() {
		describeLine(w, "Finished", "%s", localClock(r.Finished))
	}
	spec := []string{s.Executor, s.Resources.String(), "timeout " + s.Timeout().String(), "policy " + s.Policy}
	if s.Region != "" {
		spec = append(spec, "region "+s.Region)
	}
	if s.MaxPrice > 0 {
		spec = append(spec, "max price "+s.MaxPrice.String())
	}
	if s.MaxCarbon > 0 {
		spec = append(spec, "max carbon "+s.MaxCarbon.String())
	}
	if s.Auction != "" {
		spec = append(spec, "auction "+s.Auction)
	}
	if s.Replicas > 1 {
		spec = append(spec, fmt.Sprintf("%d replicas", s.Replicas))
	}
	if s.IsArray() {
		spec = append(spec, fmt.Sprintf("array of %d tasks", s.Count))
	}
	describeLine(w, "Spec", "%s", strings.Join(spec, ", "))
	var opts []string
	if r.BidWindowMS > 0 {
		opts = append(opts, "bid window "+(time.Duration(r.BidWindowMS)*time.Millisecond).String())
	}
	if r.DeadlineMS > 0 {
		opts = append(opts, "deadline "+localClock(time.UnixMilli(r.DeadlineMS)))
	}
	if r.MaxWaitMS > 0 {
		opts = append(opts, "max wait "+(time.Duration(r.MaxWaitMS)*time.Millisecond).String())
	}
	if r.NotBeforeMS > 0 {
		opts = append(opts, "not before "+localClock(time.UnixMilli(r.NotBeforeMS)))
	}
	if r.Secrets {
		opts = append(opts, "secrets (never stored)")
	}
	if len(opts) > 0 {
		describeLine(w, "Options", "%s", strings.Join(opts, ", "))
	}
	if r.Deferred != "" {
		describeLine(w, "Deferred", "%s", r.Deferred)
	}
}

// describeRounds prints the job's auction rounds, if any.
func describeRounds(w io.Writer, r *api.JobRecord) {
	if len(r.Rounds) == 0 {
		return
	}
	fmt.Fprintln(w)
	title := "Auction rounds"
	if r.RoundsDropped > 0 {
		title += fmt.Sprintf(" (the first %d not kept)", r.RoundsDropped)
	}
	fmt.Fprintln(w, title)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	for i, rd := range r.Rounds {
		closed := ""
		if rd.Closed != "" {
			closed = "; bidding closed: " + rd.Closed
		}
		// No tabs: the header ends the previous round's columns.
		fmt.Fprintf(tw, "  #%d  %s  %d candidates%s\n", i+1+r.RoundsDropped, localClock(rd.Started), rd.Candidates, closed)
		for _, b := range rd.Answers {
			if b.Decline != "" {
				fmt.Fprintf(tw, "    decline\t%s\t%s\t%s\n", short(b.Provider), b.Region, b.Decline)
				continue
			}
			queue := ""
			if b.Queue > 0 {
				queue = fmt.Sprintf("queue position %d", b.Queue)
			}
			carbon := ""
			if b.Carbon > 0 {
				carbon = b.Carbon.String()
			}
			fmt.Fprintf(tw, "    bid\t%s\t%s\t%s credits\t%s\t%s\n", short(b.Provider), b.Region, b.Price, carbon, queue)
		}
		for _, rj := range rd.Rejected {
			fmt.Fprintf(tw, "    rejected\t%s\t\t%s\n", short(rj.Provider), rj.Reason)
		}
		for _, p := range rd.Awarded {
			fmt.Fprintf(tw, "    awarded\t%s\n", short(p))
		}
		if rd.Waiting != "" {
			fmt.Fprintf(tw, "    waiting\t%s\n", rd.Waiting)
		}
	}
	_ = tw.Flush()
}

// describeAttempts prints the job's attempts, if any.
func describeAttempts(w io.Writer, r *api.JobRecord) {
	if len(r.Attempts) == 0 {
		return
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Attempts")
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	for _, a := range r.Attempts {
		result, dur := a.Result, "-"
		if result == "" {
			result = "in progress"
		}
		if !a.End.IsZero() {
			dur = a.Duration.Round(time.Millisecond).String()
		}
		fmt.Fprintf(tw, "  #%d\t%s\t%s\t%s\t%s\t%s\n", a.N, short(a.Provider), a.Region, result, dur, a.Error)
	}
	_ = tw.Flush()
}

// describeOutcome prints a finished job's outcome: winner, charge, timings,
// replicas and stdout.
func describeOutcome(w io.Writer, r *api.JobRecord) {
	o := r.Outcome
	fmt.Fprintln(w)
	if o.Provider != "" {
		describeLine(w, "Winner", "%s (%s) at %s credits", o.Provider, o.Region, o.Price)
		if o.Reason != "" {
			describeLine(w, "Why", "%s", o.Reason)
		}
	}
	describeLine(w, "Charge", "%s credits", o.Charge)
	if c := describeCarbon(o, &r.Spec); c != "" {
		describeLine(w, "Carbon", "%s", c)
	}
	describeLine(w, "Exit code", "%d", o.ExitCode)
	if o.Error != "" {
		describeLine(w, "Error", "%s", o.Error)
	}
	t := o.Timings
	describeLine(w, "Timings", "discover %.0fms, auction %.0fms, run %.0fms, total %.0fms", t.Discover, t.Auction, t.Run, t.Total)
	if o.Outputs != "" {
		describeLine(w, "Outputs", "%s", o.Outputs)
	}
	describeReplicas(w, r)
	if len(o.Stdout) > 0 {
		fmt.Fprintln(w)
		note := ""
		if r.OutputCut {
			note = " (cut)"
		}
		fmt.Fprintf(w, "Stdout%s\n%s", note, o.Stdout)
		if !strings.HasSuffix(string(o.Stdout), "\n") {
			fmt.Fprintln(w)
		}
	}
}

// describeReplicas prints the replicas of a replicated job's outcome.
func describeReplicas(w io.Writer, r *api.JobRecord) {
	o := r.Outcome
	if len(o.Replicas) == 0 {
		return
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Replicas")
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	for _, rep := range o.Replicas {
		verdict := "minority"
		if rep.Majority {
			verdict = "majority"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s credits\t%s\n", short(rep.Provider), verdict, rep.Charge, rep.Output)
	}
	_ = tw.Flush()
	if len(o.Minority) > 0 {
		describeLine(w, "Minority", "%s (not paid)", strings.Join(o.Minority, ", "))
	}
}
