package main

import (
	"fmt"
	"html"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"

	"github.com/computemesh/computemesh/internal/atomicfile"

	"github.com/spf13/cobra"
)

func newDashboard() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dashboard",
		Short: "Print (and open) a one-time login link to the running node's web dashboard",
		Long: `Ask the running node of --data-dir for a one-time login link to its web
dashboard (served on its loopback API under /dashboard/), print it, and open
it in a browser where one can be (xdg-open with DISPLAY or WAYLAND_DISPLAY
set, open on macOS) unless --no-open. The link logs a browser in once,
within 2 minutes; the session lasts 12 hours, or until the node stops.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := dialNode(cmd)
			if err != nil {
				return err
			}
			u, err := c.DashboardLogin(cmd.Context())
			if err != nil {
				return netErr(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\n", u)
			fmt.Fprintln(cmd.ErrOrStderr(), "open it in a browser on this machine: it logs in once, within 2 minutes")
			if noOpen, _ := cmd.Flags().GetBool("no-open"); !noOpen {
				if opener := browserOpener(); opener != "" {
					dataDir, _ := cmd.Flags().GetString("data-dir")
					if err := openLogin(opener, dataDir, u); err != nil {
						fmt.Fprintf(cmd.ErrOrStderr(), "could not open a browser (%v): open the link yourself\n", err)
					}
				}
			}
			return nil
		},
	}
	cmd.Flags().String("data-dir", defaultDataDir(), "data dir of the running node")
	cmd.Flags().Bool("no-open", false, "only print the link, open no browser")
	return cmd
}

// browserOpener is the program that opens a URL in the user's browser, ""
// where none can (no display: a server, an SSH session).
func browserOpener() string {
	switch runtime.GOOS {
	case "darwin":
		return "open"
	case "windows":
		return ""
	}
	if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		return ""
	}
	if p, err := exec.LookPath("xdg-open"); err == nil {
		return p
	}
	return ""
}

// loginFile is the page, in the node's data dir, that the browser is
// opened on to log in.
const loginFile = "dashboard-login.html"

// openLogin opens the login link u in the browser without putting it on
// a command line, where other local users could read it (/proc/PID/cmdline)
// and log in first: u goes into a page only the owner can read (0600 in
// the data dir) that sends the browser on to it, and the browser is
// opened on that file.
func openLogin(opener, dataDir, u string) error {
	abs, err := filepath.Abs(filepath.Join(dataDir, loginFile))
	if err != nil {
		return err
	}
	esc := html.EscapeString(u)
	page := "<!doctype html><meta charset=utf-8><meta name=referrer content=no-referrer>" +
		`<meta http-equiv="refresh" content="0; url=` + esc + `"><title>computemesh</title>` +
		`<p>Logging in to <a href="` + esc + `">the dashboard</a>…</p>` + "\n"
	if err := atomicfile.WriteFile(abs, []byte(page), 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", abs, err)
	}
	return startDetached(opener, (&url.URL{Scheme: "file", Path: abs}).String())
}

// startDetached starts prog with arg and leaves it running.
func startDetached(prog, arg string) error {
	c := exec.Command(prog, arg)
	if err := c.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", prog, err)
	}
	go func() { _ = c.Wait() }() // reaped if it ends while this process still runs
	return nil
}
