package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/computemesh/computemesh/internal/idref"
	"github.com/computemesh/computemesh/job"
)

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// short is the form of a job or peer ID tables print: plain ASCII, and
// every command that takes an ID takes it back (idref).
func short(id string) string { return idref.Short(id) }

func fmtElapsed(d time.Duration) string {
	return fmt.Sprintf("%7.1fms", float64(d)/float64(time.Millisecond))
}

// progressPrinter returns a Progress that prints one line per event.
func progressPrinter(w io.Writer) func(job.Event) {
	return func(e job.Event) {
		t := fmtElapsed(e.Elapsed)
		switch e.Kind {
		case job.EventCandidates:
			fmt.Fprintf(w, "%s  %d candidate providers found\n", t, e.Count)
		case job.EventRequest:
			fmt.Fprintf(w, "%s  job %s gossiped, collecting bids (%s)\n", t, short(e.Job), e.Message)
		case job.EventBid:
			fmt.Fprintf(w, "%s  bid      %-14s %-12s %s credits\n", t, short(e.Provider), e.Region, e.Price)
		case job.EventDecline:
			fmt.Fprintf(w, "%s  decline  %-14s %-12s %s\n", t, short(e.Provider), e.Region, e.Message)
		case job.EventClosed:
			fmt.Fprintf(w, "%s  bidding closed: %s (%d answers)\n", t, e.Message, e.Count)
		case job.EventRejected:
			fmt.Fprintf(w, "%s  rejected %-14s %s\n", t, short(e.Provider), e.Message)
		case job.EventWinner:
			fmt.Fprintf(w, "%s  winner   %-14s %-12s %s\n", t, short(e.Provider), e.Region, e.Message)
		case job.EventFailover:
			fmt.Fprintf(w, "%s  failover %-14s %s\n", t, short(e.Provider), e.Message)
		case job.EventRunning:
			fmt.Fprintf(w, "%s  running on %s\n", t, short(e.Provider))
		case job.EventTransfer:
			fmt.Fprintf(w, "%s  fetching outputs from %s: %s\n", t, short(e.Provider), e.Message)
		case job.EventDeferred:
			fmt.Fprintf(w, "%s  %s\n", t, e.Message)
		case job.EventLog:
			for _, line := range strings.SplitAfter(e.Message, "\n") {
				if line != "" {
					fmt.Fprintf(w, "%s  │ %s", t, line)
					if !strings.HasSuffix(line, "\n") {
						fmt.Fprintln(w)
					}
				}
			}
		case job.EventHeld:
			fmt.Fprintf(w, "%s  held back: %s\n", t, e.Message)
		case job.EventDone:
			fmt.Fprintf(w, "%s  done: %s\n", t, e.Message)
		}
	}
}
