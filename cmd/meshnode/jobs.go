package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/job"
	"github.com/spf13/cobra"
)

// dialNode applies the settings and reaches the running node of --data-dir
// through its API.
func dialNode(cmd *cobra.Command) (*api.Client, error) {
	if err := applyConfig(cmd); err != nil {
		return nil, err
	}
	dataDir, _ := cmd.Flags().GetString("data-dir")
	c, err := api.Dial(dataDir)
	if err != nil {
		return nil, netErr(err)
	}
	return c, nil
}

func newCancel() *cobra.Command {
	cmd := &cobra.Command{
		Use:               "cancel JOB",
		ValidArgsFunction: completeJobs,
		Short:             "Cancel a job submitted through a running node (the provider stops it)",
		Args:              cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := dialNode(cmd)
			if err != nil {
				return err
			}
			if err := c.Cancel(cmd.Context(), args[0]); errors.Is(err, api.ErrNotFound) {
				return &exitError{code: exitUsage, err: err}
			} else if err != nil {
				return netErr(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "job %s cancelled\n", args[0])
			return nil
		},
	}
	cmd.Flags().String("data-dir", defaultDataDir(), "data dir of the running node that submitted the job")
	return cmd
}

func newDrain() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "drain",
		Short: "Make a running provider take no new jobs, finish its running ones, then stop",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := dialNode(cmd)
			if err != nil {
				return err
			}
			if err := c.Drain(cmd.Context()); err != nil {
				return netErr(err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), "draining: the node takes no new jobs and stops once its running jobs have finished")
			return nil
		},
	}
	cmd.Flags().String("data-dir", defaultDataDir(), "data dir of the running node")
	return cmd
}

func newLogs() *cobra.Command {
	cmd := &cobra.Command{
		Use:               "logs [-f] JOB",
		ValidArgsFunction: completeJobs,
		Short:             "Show a job's output and progress (with -f, follow it until it ends)",
		Args:              cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := dialNode(cmd)
			if err != nil {
				return err
			}
			f := cmd.Flags()
			follow, _ := f.GetBool("follow")
			asJSON, _ := f.GetBool("json")
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
			enc := json.NewEncoder(out)
			show := logPrinter(out, errOut)
			err = c.Events(ctx, args[0], follow, func(e job.Event) {
				if asJSON {
					_ = enc.Encode(e)
					return
				}
				show(e)
			})
			if errors.Is(err, api.ErrNotFound) {
				return &exitError{code: exitUsage, err: err}
			}
			if err != nil && ctx.Err() == nil {
				return netErr(err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.String("data-dir", defaultDataDir(), "data dir of the running node that submitted the job")
	f.BoolP("follow", "f", false, "follow the job until it ends")
	f.Bool("json", false, "print the events as JSON lines")
	return cmd
}

// logPrinter prints a job's output chunks to out and its other events as
// progress lines to errOut.
func logPrinter(out, errOut io.Writer) func(job.Event) {
	progress := progressPrinter(errOut)
	return func(e job.Event) {
		if e.Kind == job.EventLog {
			_, _ = io.WriteString(out, e.Message)
			return
		}
		progress(e)
	}
}
