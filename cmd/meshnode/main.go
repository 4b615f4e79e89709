// Command meshnode is the one binary of computemesh: every participant runs
// it, as a provider that sells compute, as a client that buys it, or both.
//
//	meshnode start  --mode provider --region eu-west --price-cpu-hour 0.9
//	meshnode submit job.yaml --bootstrap /ip4/127.0.0.1/tcp/4001/p2p/12D3...
//	meshnode demo
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/computemesh/computemesh/job"
	"github.com/spf13/cobra"
)

// Exit codes of meshnode itself (not of the jobs it runs).
const (
	exitOK          = 0
	exitJobFailed   = 1   // the job ran and failed: non-zero exit, timeout, limit
	exitUsage       = 2   // bad usage or spec: nothing was sent
	exitUnscheduled = 3   // no bid matched by the deadline
	exitNetwork     = 4   // node, API or network error
	exitDetached    = 130 // interrupted (Ctrl-C): the job goes on in the node
)

// exitError carries an exit code up to main.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, a ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, a...)}
}

func netErr(err error) error { return &exitError{code: exitNetwork, err: err} }

// silentExit ends the command with a code and no further message.
type silentExit int

func (s silentExit) Error() string { return fmt.Sprintf("exit %d", int(s)) }

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	root := newRoot()
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	var s silentExit
	if errors.As(err, &s) {
		return int(s)
	}
	fmt.Fprintln(os.Stderr, "meshnode:", err)
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	// cobra's own errors: unknown flags and commands, bad flag values.
	return exitUsage
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "meshnode",
		Short:         "A node of computemesh, the peer-to-peer compute network",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.PersistentFlags().String("config", "", "YAML file of flag values (flag name: value); flags and MESHNODE_* env override it")
	root.PersistentFlags().String("log-level", "", "log level (debug, info, warn, error); GOLOG_LOG_LEVEL also works")
	root.AddCommand(newStart(), newSubmit(), newDemo(), newVersion(), newProviders(), newChallenge(), newProbe(), newAdd(), newGet(), newCancel(), newLogs(), newDrain(), newJobs(), newJob(), newReputation(), newGC(), newMarket(), newIdentity(), newCredits(), newLedger(), newGrant(), newStatus(), newDevnet())
	root.AddCommand(newSim())
	root.AddCommand(newDashboard())
	return root
}

const version = "0.1.0"

func newVersion() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, the commit it was built from, and the versions of the protocols and libraries it speaks",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			v := buildVersion()
			if asJSON, _ := cmd.Flags().GetBool("json"); asJSON {
				_ = json.NewEncoder(cmd.OutOrStdout()).Encode(v)
				return
			}
			fmt.Fprintf(cmd.OutOrStdout(), "meshnode %s\n  commit   %s\n  go       %s %s\n  wire     v%d (job records, bids, receipts)\n  libp2p   %s\n",
				v.Version, v.Commit, v.Go, v.Platform, v.Wire, v.Libp2p)
		},
	}
	cmd.Flags().Bool("json", false, "print JSON")
	return cmd
}

// versionInfo is what `meshnode version` prints.
type versionInfo struct {
	Version  string `json:"version"`
	Commit   string `json:"commit"` // the VCS revision and time, "+modified" for a dirty tree; "unknown" without VCS stamping
	Go       string `json:"go"`
	Platform string `json:"platform"`
	Wire     int    `json:"wire"` // job.Version: the records' and messages' format
	Libp2p   string `json:"libp2p"`
}

func buildVersion() versionInfo {
	v := versionInfo{Version: version, Commit: "unknown", Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH,
		Wire: job.Version, Libp2p: "unknown"}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	var rev, at, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value[:min(len(s.Value), 12)]
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+modified"
			}
		}
	}
	if rev != "" {
		v.Commit = strings.TrimSpace(rev + dirty + " " + at)
	}
	for _, d := range bi.Deps {
		if d.Path == "github.com/libp2p/go-libp2p" {
			v.Libp2p = d.Version
		}
	}
	return v
}
