package sim

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
)

// WriteTable prints a report for people: one row per load and scheduler,
// each figure with its ratio to the omniscient scheduler's.
func WriteTable(out io.Writer, rep *Report) error {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "load\tscheduler\tjobs\tcost/job (credits)\tRTT (ms)\tmean completion (s)\tp99 completion (s)\twait (s)\trun (s)\tawards/job\tcores busy\t")
	for _, r := range rep.Results {
		fmt.Fprintf(w, "%.0f%%\t%s\t%d\t%.4f ×%.3f\t%.1f ×%.2f\t%.1f ×%.3f\t%.0f ×%.2f\t%.1f\t%.1f\t%.2f\t%.0f%%\t\n",
			r.Load*100, r.Scheduler, r.Jobs, r.CostMean, r.Ratio.Cost, r.RTTMeanMS, r.Ratio.RTT,
			r.CompletionMean, r.Ratio.CompletionMean, r.CompletionP99, r.Ratio.CompletionP99, r.WaitMean, r.RunMean, r.Awards, r.CPUBusy*100)
	}
	return w.Flush()
}

// FindData looks for the shared RTT data set in dir/shared/data for dir and
// each of its parents (a checkout's sibling shared/ folder), and returns
// the first folder that holds it, or "".
func FindData(dir string) string {
	for {
		d := filepath.Join(dir, "shared", "data")
		if HasData(d) {
			return d
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// HasData reports whether dir holds the two CSV files of the data set.
func HasData(dir string) bool {
	for _, f := range []string{PingsFile, ServersFile} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || !st.Mode().IsRegular() {
			return false
		}
	}
	return true
}

// WriteBurstTable prints a burst report for people: one row per load and
// variant, the makespan also as a ratio to the ideal, the cost also as a
// ratio to the cheapest variant's.
func WriteBurstTable(out io.Writer, rep *BurstReport) error {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "load\tjobs\tvariant\tcompleted\tunscheduled\tmakespan (s)\tideal (s)\tmean completion (s)\tcost/job (credits)\tproviders used\tmost on one\t")
	var cheapest float64
	for _, r := range rep.Results {
		if r.Variant == VariantCheapest {
			cheapest = r.CostMean
		}
		name := r.Variant
		if r.Bound > 0 {
			name += " " + r.Bound.String()
		}
		fmt.Fprintf(w, "%.2g\t%d\t%s\t%d\t%d\t%.0f ×%.1f\t%.0f\t%.0f\t%.5f ×%.3f\t%d\t%d\t\n",
			r.Load, r.Jobs, name, r.Completed, r.Unscheduled, r.Makespan, ratio(r.Makespan, r.Ideal), r.Ideal,
			r.CompletionMean, r.CostMean, ratio(r.CostMean, cheapest), r.Providers, r.MostOnOne)
	}
	return w.Flush()
}
