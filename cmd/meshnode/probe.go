package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/computemesh/computemesh/hwprobe"
	"github.com/spf13/cobra"
)

func newProbe() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "probe",
		Short: "Show what this machine offers: CPU, memory, storage, GPUs, executors, benchmark",
		Long: `Probe this machine as a provider would at start: CPU (model, cores, threads,
instruction-set flags), memory, the storage of the data directory, GPUs (the
PCI bus, refined by nvidia-smi and rocm-smi when on the PATH), executors and a
short CPU benchmark, cached in the data directory until the hardware changes.

What could not be read is listed under notes; the exit status is 0 all the same.`,
		Args: cobra.NoArgs,
		RunE: runProbe,
	}
	f := cmd.Flags()
	f.String("data-dir", defaultDataDir(), "data directory whose storage is reported and where the benchmark is cached (created if missing)")
	f.Bool("json", false, "print the report as one JSON object")
	return cmd
}

func runProbe(cmd *cobra.Command, _ []string) error {
	if err := applyConfig(cmd); err != nil {
		return err
	}
	dataDir, _ := cmd.Flags().GetString("data-dir")
	asJSON, _ := cmd.Flags().GetBool("json")
	r := hwprobe.Probe(cmd.Context(), hwprobe.WithDataDir(dataDir))
	out := cmd.OutOrStdout()
	if asJSON {
		if err := json.NewEncoder(out).Encode(r); err != nil {
			return fmt.Errorf("writing the report: %w", err)
		}
		return nil
	}
	return writeProbeReport(out, r)
}

// writeProbeReport prints a report for people, one section a line or block.
func writeProbeReport(out io.Writer, r hwprobe.Report) error {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	line := func(section, format string, a ...any) {
		fmt.Fprintf(w, "%s\t%s\n", section, fmt.Sprintf(format, a...))
	}
	c := r.CPU
	line("CPU", "%s (%s), %d cores, %d threads", orUnknown(c.Model), orUnknown(c.Vendor), c.Cores, c.Threads)
	if len(c.Flags) > 0 {
		line("", "flags: %s", strings.Join(c.Flags, " "))
	}
	m := r.Memory
	line("Memory", "%s usable (kernel MemTotal), %s physical, %s available",
		fmtBytes(m.UsableBytes), fmtBytes(m.PhysicalBytes), fmtBytes(m.AvailableBytes))
	if s := r.Storage; s != nil {
		on := ""
		if s.Device != "" {
			on = " on " + s.Device
			if s.FSType != "" {
				on += " (" + s.FSType + ")"
			}
		}
		line("Storage", "%s: %s free of %s%s", s.DataDir, fmtBytes(s.FreeBytes), fmtBytes(s.TotalBytes), on)
	}
	if len(r.GPUs) == 0 {
		line("GPUs", "none found")
	} else {
		line("GPUs", "%d, listed below", len(r.GPUs))
	}
	line("Executors", "%s", strings.Join(r.Executors, ", "))
	if b := r.Benchmark; b != nil {
		how := "measured now"
		if b.Cached {
			how = "cached, measured " + b.MeasuredAt.Local().Format(time.DateTime)
		}
		line("Benchmark", "sha256 %.1f MB/s per core, matmul %.1f GFLOPS per core (%s)",
			b.HashMBPerSecPerCore, b.MatmulGFLOPS, how)
	}
	line("System", "%s/%s", r.OS, r.Arch)
	if err := w.Flush(); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}

	if len(r.GPUs) > 0 {
		fmt.Fprintln(out)
		t := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(t, "  #\tVENDOR\tMODEL\tVRAM\tDRIVER\tPCI\tSOURCE")
		for i, g := range r.GPUs {
			fmt.Fprintf(t, "  %d\t%s\t%s\t%s\t%s\t%s\t%s\n", i, g.Vendor, g.Model, fmtBytes(g.VRAMBytes),
				orDash(strings.TrimSpace(g.Driver+" "+g.DriverVersion)), orDash(g.PCIAddress), g.Source)
		}
		if err := t.Flush(); err != nil {
			return fmt.Errorf("writing the report: %w", err)
		}
	}
	if len(r.Notes) > 0 {
		fmt.Fprintln(out, "\nNotes")
		for _, n := range r.Notes {
			fmt.Fprintf(out, "  - %s\n", n)
		}
	}
	return nil
}

// fmtBytes writes a size in TiB, GiB or MiB, "-" for 0 (unknown).
func fmtBytes(b uint64) string {
	switch {
	case b == 0:
		return "-"
	case b >= 1<<40:
		return fmt.Sprintf("%.1f TiB", float64(b)/(1<<40))
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
	default:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
