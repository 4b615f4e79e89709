package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/internal/idref"
	"github.com/computemesh/computemesh/node"
	"github.com/spf13/cobra"
)

// Shell completion (meshnode completion bash|zsh|fish|powershell, cobra's)
// of the job IDs that describe, logs and cancel take: the jobs of the node
// of --data-dir, from the running node or its records on disk, offered in
// the short form the tables print (idref), each with its state.

// maxCompletions bounds the job IDs offered (the newest first).
const maxCompletions = 200

// completeJobs is a cobra ValidArgsFunction for a command whose one
// argument is a job of the node of --data-dir.
func completeJobs(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	dataDir, _ := cmd.Flags().GetString("data-dir")
	if dataDir == "" {
		dataDir = defaultDataDir()
	}
	var jobs []api.JobSummary
	if c, err := api.Dial(dataDir); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		jobs, err = c.Jobs(ctx)
		cancel()
		if err != nil {
			jobs = nil
		}
	}
	if jobs == nil {
		jobs, _ = node.ReadJobs(dataDir)
	}
	out := make([]string, 0, min(len(jobs), maxCompletions))
	for _, j := range jobs {
		s := idref.Short(j.ID)
		if !strings.HasPrefix(s, toComplete) && !strings.HasPrefix(j.ID, toComplete) {
			continue
		}
		out = append(out, fmt.Sprintf("%s\t%s %s", s, j.State, j.Name))
		if len(out) == maxCompletions {
			break
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
