package ledgersim

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// PerNode is one node's cost: per second of simulated time, or (Setup)
// once.
type PerNode struct {
	Messages     float64 `json:"messages"`      // received
	Bytes        float64 `json:"bytes"`         // received, encoded
	CPUMillis    float64 `json:"cpu_ms"`        // wall time of its ledger calls
	StorageBytes float64 `json:"storage_bytes"` // appended to its log
	Records      float64 `json:"records"`       // appended to its log
	// Fsyncs is its log's writes, one fsync each: one per record added
	// on its own, one per sync answer or store request (Ledger.AddAll).
	Fsyncs float64 `json:"fsyncs"`
}

func (p PerNode) values() []float64 {
	return []float64{p.Messages, p.Bytes, p.CPUMillis, p.StorageBytes, p.Records, p.Fsyncs}
}

var rowNames = []string{"messages", "bytes received", "cpu ms", "storage bytes", "records stored", "fsyncs"}

// Design is one design's cost.
type Design struct {
	// Nodes is how many nodes were measured: today the sample, in the new
	// design every node.
	Nodes int `json:"nodes"`
	// Mean and Max are over the measured nodes, per node per second.
	Mean PerNode `json:"mean"`
	Max  PerNode `json:"max"`
	// Total is the whole network's cost per second (today: Mean times
	// the network's size, every node doing the same work).
	Total PerNode `json:"total"`
}

// Setup is the one-off cost of the grants, gossiped to every node in both
// designs: per node, measured on today's sample.
type Setup struct {
	Grants  int     `json:"grants"`
	PerNode PerNode `json:"per_node"`
}

// Report is what a run found.
type Report struct {
	Config    Config `json:"config"`
	Providers int    `json:"providers"`
	Jobs      int    `json:"jobs"`
	Today     Design `json:"today"`
	New       Design `json:"new"`
	// Ratio is today's mean over the new design's, per metric (0 where
	// the new design's is 0).
	Ratio PerNode `json:"ratio"`
	Setup Setup   `json:"setup"`
	// SyncsPerSecond is the new design's judge syncs a second (each one
	// SyncRequest to each of the client's holders).
	SyncsPerSecond float64 `json:"syncs_per_second"`
	// Wire is the mean encoded size of each kind of message, in bytes
	// ("sync answer": to a judge's first sync of a client, SinceMS 0;
	// "sync answer, incremental": to a later one).
	Wire map[string]float64 `json:"wire"`
	// WireRecords is the mean number of records of each kind of message
	// that carries records (store requests, sync answers).
	WireRecords map[string]float64 `json:"wire_records"`
	Checks      Checks             `json:"checks"`
	// WallSeconds is how long the run took.
	WallSeconds float64 `json:"wall_seconds"`
}

// Run simulates cfg (zero fields take DefaultConfig's values).
func Run(cfg Config) (*Report, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("ledgersim: config: %w", err)
	}
	start := time.Now()
	s := newSim(cfg)
	if err := s.setupGrants(); err != nil {
		return nil, fmt.Errorf("ledgersim: grants: %w", err)
	}
	if err := s.setupHistory(); err != nil {
		return nil, fmt.Errorf("ledgersim: history: %w", err)
	}
	if err := s.run(); err != nil {
		return nil, fmt.Errorf("ledgersim: %w", err)
	}
	s.finalChecks()
	r := s.report()
	r.WallSeconds = time.Since(start).Seconds()
	return r, nil
}

// Scale runs each configuration in turn: for the scaling view, grow Nodes
// and JobsPerSecond together (fixed jobs per node).
func Scale(cfgs []Config) ([]*Report, error) {
	var out []*Report
	for i, c := range cfgs {
		r, err := Run(c)
		if err != nil {
			return out, fmt.Errorf("configuration %d: %w", i, err)
		}
		out = append(out, r)
	}
	return out, nil
}

func (s *sim) report() *Report {
	r := &Report{Config: s.cfg, Providers: len(s.providers), Jobs: s.jobs, Checks: s.checks,
		Wire: map[string]float64{}, WireRecords: map[string]float64{}, SyncsPerSecond: float64(s.checks.Syncs) / s.cfg.Seconds}
	r.Today = design(s.today, s.cfg.Seconds, s.cfg.Nodes)
	r.New = design(s.cost, s.cfg.Seconds, 0)
	t, n := r.Today.Mean.values(), r.New.Mean.values()
	ratio := make([]float64, len(t))
	for i := range t {
		if n[i] > 0 { // else 0: JSON has no infinity
			ratio[i] = t[i] / n[i]
		}
	}
	r.Ratio = perNode(ratio)
	setup := design(s.setup, 1, 0)
	r.Setup = Setup{Grants: len(s.clients), PerNode: setup.Mean}
	for k, c := range s.wire {
		r.Wire[k] = float64(c.bytes) / float64(c.n)
		if c.hasRecs {
			r.WireRecords[k] = float64(c.recs) / float64(c.n)
		}
	}
	return r
}

func perNode(v []float64) PerNode {
	return PerNode{Messages: v[0], Bytes: v[1], CPUMillis: v[2], StorageBytes: v[3], Records: v[4], Fsyncs: v[5]}
}

// design sums costs per second; the total is Mean times scaleTo when it
// is positive (a sample), else the sum.
func design(cs []cost, seconds float64, scaleTo int) Design {
	var sum, top [6]float64
	for _, c := range cs {
		v := [6]float64{float64(c.msgs), float64(c.bytes), float64(c.cpu) / float64(time.Millisecond),
			float64(c.stored), float64(c.recs), float64(c.fsyncs)}
		for i := range v {
			v[i] /= seconds
			sum[i] += v[i]
			top[i] = max(top[i], v[i])
		}
	}
	d := Design{Nodes: len(cs), Max: perNode(top[:])}
	mean, total := make([]float64, len(sum)), make([]float64, len(sum))
	for i := range sum {
		mean[i] = sum[i] / float64(len(cs))
		total[i] = sum[i]
		if scaleTo > 0 {
			total[i] = mean[i] * float64(scaleTo)
		}
	}
	d.Mean, d.Total = perNode(mean), perNode(total)
	return d
}

// num formats x for people: no decimals from 100 on, 2 below, 3
// significant digits under 1.
func num(x float64) string {
	switch a := math.Abs(x); {
	case a >= 100 || x == 0:
		return fmt.Sprintf("%.0f", x)
	case a >= 1:
		return fmt.Sprintf("%.2f", x)
	}
	return fmt.Sprintf("%.3g", x)
}

// Table is the report as aligned text.
func (r *Report) Table() string {
	var b strings.Builder
	c := r.Config
	fmt.Fprintf(&b, "ledgersim: %d nodes (%d clients, %d providers), %g jobs/s for %g simulated s: %d jobs\n",
		c.Nodes, c.Clients, r.Providers, c.JobsPerSecond, c.Seconds, r.Jobs)
	fmt.Fprintf(&b, "  D=%d, %d publisher(s) per receipt today, %d holders, history %d receipts/client, seed %d; today measured on %d sampled nodes\n\n",
		c.GossipDegree, c.Publishers, c.Holders, c.History, c.Seed, r.Today.Nodes)
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "per node per second\ttoday mean\ttoday max\tnew mean\tnew max\ttoday/new\t")
	tm, tx, nm, nx, ra := r.Today.Mean.values(), r.Today.Max.values(), r.New.Mean.values(), r.New.Max.values(), r.Ratio.values()
	for i, name := range rowNames {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%sx\t\n", name, num(tm[i]), num(tx[i]), num(nm[i]), num(nx[i]), num(ra[i]))
	}
	fmt.Fprintln(w, "\t\t\t\t\t\t")
	fmt.Fprintln(w, "network per second\ttoday\t\tnew\t\t\t")
	tt, nt := r.Today.Total.values(), r.New.Total.values()
	for i, name := range rowNames {
		fmt.Fprintf(w, "%s\t%s\t\t%s\t\t\t\n", name, num(tt[i]), num(nt[i]))
	}
	w.Flush()
	sp := r.Setup.PerNode
	fmt.Fprintf(&b, "\nsetup, once per node in both designs (%d grants gossiped): %s messages, %s bytes, %s cpu ms, %s storage bytes, %s fsyncs\n",
		r.Setup.Grants, num(sp.Messages), num(sp.Bytes), num(sp.CPUMillis), num(sp.StorageBytes), num(sp.Fsyncs))
	fmt.Fprintf(&b, "new design syncs: %s/s (%s per provider per second), %d of %d incremental (SinceMS set: the judge synced the client before)\n",
		num(r.SyncsPerSecond), num(r.SyncsPerSecond/float64(max(r.Providers, 1))), r.Checks.IncrementalSyncs, r.Checks.Syncs)
	kinds := make([]string, 0, len(r.Wire))
	for k := range r.Wire {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	fmt.Fprintf(&b, "mean wire bytes:")
	for _, k := range kinds {
		fmt.Fprintf(&b, " %s %s;", k, num(r.Wire[k]))
	}
	fmt.Fprintf(&b, "\nmean records per message:")
	for _, k := range kinds {
		if n, ok := r.WireRecords[k]; ok {
			fmt.Fprintf(&b, " %s %s;", k, num(n))
		}
	}
	ck := r.Checks
	verdict := "ok"
	if !ck.OK() {
		verdict = "FAILED"
	}
	fmt.Fprintf(&b, "\nchecks %s: %d books, %d conservation violations, %d of %d receipts left out of incremental answers not held by the judge, %d judges seeing a client richer and %d judge mismatches in %d syncs, %d client mismatches, %d incomplete today books, %d refused jobs\n",
		verdict, ck.Books, ck.ConservationViolations, ck.LeftOutNotHeld, ck.LeftOut, ck.JudgeRicher, ck.JudgeMismatches, ck.Syncs, ck.ClientMismatches, ck.TodayIncomplete, ck.Refused)
	for _, p := range ck.Problems {
		fmt.Fprintf(&b, "  %s\n", p)
	}
	fmt.Fprintf(&b, "run took %.1f s\n", r.WallSeconds)
	return b.String()
}

// ScaleTable compares runs of growing networks: per node per second,
// means.
func ScaleTable(rs []*Report) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "nodes\tjobs/s\tjobs/node/s\tmsgs today\tmsgs new\tbytes today\tbytes new\tcpu ms today\tcpu ms new\tstorage today\tstorage new\tstorage new max\tfsyncs today\tfsyncs new\tfsyncs new max\t")
	for _, r := range rs {
		t, n := r.Today.Mean, r.New.Mean
		fmt.Fprintf(w, "%d\t%g\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
			r.Config.Nodes, r.Config.JobsPerSecond, num(r.Config.JobsPerSecond/float64(r.Config.Nodes)),
			num(t.Messages), num(n.Messages), num(t.Bytes), num(n.Bytes), num(t.CPUMillis), num(n.CPUMillis),
			num(t.StorageBytes), num(n.StorageBytes), num(r.New.Max.StorageBytes),
			num(t.Fsyncs), num(n.Fsyncs), num(r.New.Max.Fsyncs))
	}
	w.Flush()
	return b.String()
}
