package node

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/mesh"
	"github.com/prometheus/client_golang/prometheus"
)

// metricsDoc and dashboardFile are where the metrics are documented and
// the Grafana dashboard over them.
var (
	metricsDoc    = filepath.Join("..", "docs", "METRICS.md")
	dashboardFile = filepath.Join("..", "docs", "grafana-dashboard.json")
)

// docFamilies are the prefixes docs/METRICS.md may document as a whole
// (a row named PREFIX*, type "family"): the standard Go runtime and
// process collectors, whose metrics are client_golang's and Go's to name.
// Every other metric has a row of its own.
var docFamilies = []string{"go_", "process_"}

// docMetric is one row of docs/METRICS.md.
type docMetric struct {
	Name   string // a metric's name, or a family's prefix ("go_")
	Type   string // counter, gauge, histogram, summary; family
	Labels []string
	Line   int
}

// readMetricsDoc reads the tables of docs/METRICS.md: rows whose first
// cell is a metric's name in backquotes.
func readMetricsDoc(t *testing.T) map[string]docMetric {
	t.Helper()
	b, err := os.ReadFile(metricsDoc)
	if err != nil {
		t.Fatal(err)
	}
	doc := map[string]docMetric{}
	for i, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		if len(cells) != 4 || strings.TrimSpace(cells[3]) == "" {
			t.Errorf("%s:%d: want | `name` | type | labels | meaning |, got %q", metricsDoc, i+1, line)
			continue
		}
		m := docMetric{Name: strings.Trim(cells[0], "`"), Type: cells[1], Line: i + 1}
		if cells[2] != "—" {
			for l := range strings.SplitSeq(cells[2], ", ") {
				m.Labels = append(m.Labels, strings.Trim(l, "`"))
			}
		}
		if prefix, ok := strings.CutSuffix(m.Name, "*"); ok {
			if m.Type != "family" || !slices.Contains(docFamilies, prefix) {
				t.Errorf("%s:%d: %s: only %v may be documented as a family", metricsDoc, i+1, m.Name, docFamilies)
			}
			m.Name = prefix
		} else if !slices.Contains([]string{"counter", "gauge", "histogram", "summary"}, m.Type) {
			t.Errorf("%s:%d: %s: type %q is not counter, gauge, histogram or summary", metricsDoc, i+1, m.Name, m.Type)
		}
		if prev, dup := doc[m.Name]; dup {
			t.Errorf("%s:%d: %s documented twice (line %d too)", metricsDoc, i+1, m.Name, prev.Line)
		}
		doc[m.Name] = m
	}
	if len(doc) == 0 {
		t.Fatalf("%s documents no metric", metricsDoc)
	}
	return doc
}

// family returns the documented family name belongs to ("" for none).
func family(name string) string {
	for _, f := range docFamilies {
		if strings.HasPrefix(name, f) {
			return f
		}
	}
	return ""
}

// registeredMetric is what a node's registry says of one metric: its
// descriptor, and its type when a scrape served it.
type registeredMetric struct {
	metricDesc
	Type string // "" when no scrape served it yet (a vector without children)
}

// metricDesc is what a metric's descriptor says of it.
type metricDesc struct {
	Name   string
	Help   string
	Labels []string // variable labels, in order
}

// descPattern reads a prometheus.Desc's String(), the only way to its
// name, help and labels from outside client_golang.
var descPattern = regexp.MustCompile(`^Desc\{fqName: ("(?:[^"\\]|\\.)*"), help: ("(?:[^"\\]|\\.)*"), .*variableLabels: \{([^}]*)\}\}$`)

func parseDesc(s string) (metricDesc, error) {
	m := descPattern.FindStringSubmatch(s)
	if m == nil {
		return metricDesc{}, fmt.Errorf("reading the metric descriptor %s: unknown form", s)
	}
	name, err := strconv.Unquote(m[1])
	if err != nil {
		return metricDesc{}, fmt.Errorf("reading the metric descriptor %s: name: %w", s, err)
	}
	help, err := strconv.Unquote(m[2])
	if err != nil {
		return metricDesc{}, fmt.Errorf("reading the metric descriptor %s: help: %w", s, err)
	}
	var labels []string
	for l := range strings.SplitSeq(m[3], ",") {
		if l = strings.TrimSpace(l); l != "" {
			labels = append(labels, strings.TrimSuffix(strings.TrimPrefix(l, "c("), ")")) // c(name): constrained
		}
	}
	return metricDesc{Name: name, Help: help, Labels: labels}, nil
}

// describedMetrics returns what the collectors registered with reg
// describe (vectors without children included), by name.
func describedMetrics(t *testing.T, reg *registry) map[string]metricDesc {
	t.Helper()
	ch := make(chan *prometheus.Desc)
	go func() {
		for _, c := range reg.registered() {
			c.Describe(ch)
		}
		close(ch)
	}()
	out := map[string]metricDesc{}
	for d := range ch {
		md, err := parseDesc(d.String())
		if err != nil {
			t.Error(err)
			continue
		}
		out[md.Name] = md
	}
	return out
}

// registeredMetrics adds to into every metric n's registry holds: what
// its collectors describe, and what a scrape serves (with its type).
func registeredMetrics(t *testing.T, n *Node, into map[string]registeredMetric) {
	t.Helper()
	for name, md := range describedMetrics(t, n.metrics.reg) {
		r := into[name]
		r.metricDesc = md
		into[name] = r
	}
	mfs, err := n.metrics.reg.Gather()
	if err != nil {
		t.Fatalf("gathering the metrics: %v", err)
	}
	for _, mf := range mfs {
		r := into[mf.GetName()]
		r.Name, r.Type = mf.GetName(), strings.ToLower(mf.GetType().String())
		if r.Help == "" {
			r.Help = mf.GetHelp()
		}
		into[mf.GetName()] = r
	}
}

// TestMetricsDocumented starts nodes that between them register every
// metric a node may (a provider running the relay service, and a client
// behind NAT using it as its relay: go-libp2p registers the relay
// service's and AutoRelay's metrics only then) and checks docs/METRICS.md
// against their registries: every metric has help text and a row of its
// own (go_* and process_* a family row), with its labels and, where a
// scrape shows it, its type; every row names a metric that exists.
func TestMetricsDocumented(t *testing.T) {
	t.Parallel()
	doc := readMetricsDoc(t)
	relay, err := New(context.Background(), Config{
		DataDir: t.TempDir(), Network: "test-metrics-doc", Mode: ModeProvider, Region: "eu-west",
		Rates: job.Rates{CPUHour: job.Nano}, Hardware: testHardware(t), RelayService: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { relay.Close() })
	relayed, err := New(context.Background(), Config{
		DataDir: t.TempDir(), Network: "test-metrics-doc", Mode: ModeClient,
		Relays: []string{relay.mesh.Addrs()[0].String()}, Reachability: mesh.ReachabilityPrivate,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { relayed.Close() })

	reg := map[string]registeredMetric{}
	registeredMetrics(t, relay, reg)
	registeredMetrics(t, relayed, reg)
	families := map[string]int{}
	for name, r := range reg {
		if r.Help == "" {
			t.Errorf("%s has no help text", name)
		}
		if f := family(name); f != "" {
			families[f]++
			continue
		}
		d, ok := doc[name]
		switch {
		case !ok:
			t.Errorf("%s (%s, labels %v: %q) is registered but not documented in %s", name, r.Type, r.Labels, r.Help, metricsDoc)
		case !slices.Equal(d.Labels, r.Labels):
			t.Errorf("%s:%d: %s: documented labels %v, registered %v", metricsDoc, d.Line, name, d.Labels, r.Labels)
		case r.Type != "" && d.Type != r.Type:
			t.Errorf("%s:%d: %s: documented as a %s, served as a %s", metricsDoc, d.Line, name, d.Type, r.Type)
		}
	}
	for name, d := range doc {
		if d.Type == "family" {
			if families[name] == 0 {
				t.Errorf("%s:%d: family %s*: no metric of it is registered", metricsDoc, d.Line, name)
			}
		} else if _, ok := reg[name]; !ok {
			t.Errorf("%s:%d: %s is documented but no node registers it", metricsDoc, d.Line, name)
		}
	}
	for _, f := range docFamilies {
		if _, ok := doc[f]; !ok {
			t.Errorf("%s: the family %s* is registered (%d metrics) but not documented", metricsDoc, f, families[f])
		}
	}
}

// grafanaDashboard is what the test reads of docs/grafana-dashboard.json.
type grafanaDashboard struct {
	Title         string         `json:"title"`
	UID           string         `json:"uid"`
	SchemaVersion int            `json:"schemaVersion"`
	Panels        []grafanaPanel `json:"panels"`
	Templating    struct {
		List []struct {
			Name  string          `json:"name"`
			Type  string          `json:"type"`
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type grafanaPanel struct {
	ID         int                       `json:"id"`
	Type       string                    `json:"type"`
	Title      string                    `json:"title"`
	Datasource json.RawMessage           `json:"datasource"`
	GridPos    *struct{ H, W, X, Y int } `json:"gridPos"`
	Targets    []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	Panels []grafanaPanel `json:"panels"` // a collapsed row's
}

// TestGrafanaDashboardMetrics checks docs/grafana-dashboard.json: a
// Grafana dashboard (title, uid, schema, panels with unique IDs, each
// with a position, a data source and queries), with rows for jobs,
// auctions, capacity, peers and credits, whose every PromQL query (and
// template variable query) uses only metrics docs/METRICS.md documents
// (one of a documented family, go_* or process_*, only if a node's Go or
// process collector has it).
func TestGrafanaDashboardMetrics(t *testing.T) {
	t.Parallel()
	doc := readMetricsDoc(t)
	// A node's registry, never scraped (its gauges would read a mesh it
	// does not have): what its collectors describe.
	collected := describedMetrics(t, newMetrics(&Node{cfg: Config{Mode: ModeProvider}}).reg)
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d grafanaDashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if d.Title == "" || d.UID == "" || d.SchemaVersion < 30 || len(d.Panels) == 0 {
		t.Fatalf("%s: not a Grafana dashboard (title %q, uid %q, schemaVersion %d, %d panels)", dashboardFile, d.Title, d.UID, d.SchemaVersion, len(d.Panels))
	}
	exprs := map[string]string{} // expression → where
	ids := map[int]string{}
	var rows []string
	var walk func(ps []grafanaPanel)
	walk = func(ps []grafanaPanel) {
		for _, p := range ps {
			if prev, dup := ids[p.ID]; dup || p.ID == 0 {
				t.Errorf("panel %q: id %d (also %q)", p.Title, p.ID, prev)
			}
			ids[p.ID] = p.Title
			if p.GridPos == nil || p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X+p.GridPos.W > 24 {
				t.Errorf("panel %q: gridPos %+v", p.Title, p.GridPos)
			}
			if p.Type == "row" {
				rows = append(rows, p.Title)
				walk(p.Panels)
				continue
			}
			if p.Title == "" || len(p.Datasource) == 0 || len(p.Targets) == 0 {
				t.Errorf("panel %d %q: want a title, a data source and queries", p.ID, p.Title)
			}
			for _, tg := range p.Targets {
				if strings.TrimSpace(tg.Expr) == "" || tg.RefID == "" {
					t.Errorf("panel %q: a query without expr or refId", p.Title)
				}
				exprs[tg.Expr] = fmt.Sprintf("panel %q", p.Title)
			}
		}
	}
	walk(d.Panels)
	for _, want := range []string{"Jobs", "Auctions", "Capacity", "Peers", "Credits"} {
		if !slices.Contains(rows, want) {
			t.Errorf("%s: no %q row (rows: %v)", dashboardFile, want, rows)
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct{ Query string }
		if err := json.Unmarshal(v.Query, &q); err != nil {
			if err := json.Unmarshal(v.Query, &q.Query); err != nil {
				t.Errorf("variable %s: query %s", v.Name, v.Query)
			}
		}
		exprs[q.Query] = "variable " + v.Name
	}
	used := 0
	for expr, where := range exprs {
		names := promqlMetricNames(expr)
		if len(names) == 0 {
			t.Errorf("%s: %q uses no metric", where, expr)
		}
		for _, name := range names {
			used++
			if !documentedMetric(name, doc) {
				t.Errorf("%s: %q uses %s, which %s does not document", where, expr, name, metricsDoc)
			} else if _, ok := collected[name]; family(name) != "" && !ok {
				t.Errorf("%s: %q uses %s, which is not a metric of the %s* family that a node has", where, expr, name, family(name))
			}
		}
	}
	t.Logf("%d queries, %d metric uses", len(exprs), used)
}

// documentedMetric reports whether name is a documented metric, a series
// of a documented histogram (_bucket, _sum, _count) or summary (_sum,
// _count), or one of a documented family.
func documentedMetric(name string, doc map[string]docMetric) bool {
	if d, ok := doc[name]; ok && d.Type != "family" {
		return true
	}
	if f := family(name); f != "" {
		_, ok := doc[f]
		return ok
	}
	for suffix, types := range map[string][]string{"_bucket": {"histogram"}, "_sum": {"histogram", "summary"}, "_count": {"histogram", "summary"}} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			if d, ok := doc[base]; ok && slices.Contains(types, d.Type) {
				return true
			}
		}
	}
	return false
}

// PromQL as far as the metric names in an expression go.
var (
	promqlStrings = regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'|`[^`]*`")
	// Grafana's variables ($instance, ${datasource}, [[var]]).
	promqlVariables = regexp.MustCompile(`\$\{[^}]*\}|\$\w+|\[\[[^\]]*\]\]`)
	promqlMatchers  = regexp.MustCompile(`\{[^}]*\}`)
	promqlRanges    = regexp.MustCompile(`\[[^\]]*\]`)
	// Label lists: by (le), without (...), on (...), ignoring (...),
	// group_left (...), group_right (...).
	promqlGroupings = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	// Grafana's label_values(metric, label), whose metric is one, and
	// label_values(label), which names none.
	promqlLabelValues     = regexp.MustCompile(`\blabel_values\s*\(([^,()]*),\s*[a-zA-Z_]\w*\s*\)`)
	promqlLabelValuesOnly = regexp.MustCompile(`\blabel_values\s*\(\s*[a-zA-Z_]\w*\s*\)`)
	// A number or duration (1e9, 0.5, 5m), or an identifier.
	promqlTokens   = regexp.MustCompile(`(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?(?:ms|[smhdwy])*|0[xX][0-9a-fA-F]+|[a-zA-Z_:][a-zA-Z0-9_:]*`)
	promqlKeywords = []string{"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "inf", "nan", "atan2", "start", "end"}
)

// promqlMetricNames returns the metric names a PromQL expression (a
// dashboard's, or a label_values(...) variable query) selects: the
// identifiers left once strings, Grafana variables, label matchers,
// ranges, label lists and label_values' label are taken out, other than
// functions (an identifier before "(") and keywords.
func promqlMetricNames(expr string) []string {
	s := promqlStrings.ReplaceAllString(expr, `""`)
	s = promqlVariables.ReplaceAllString(s, " ")
	s = promqlMatchers.ReplaceAllString(s, " ")
	s = promqlRanges.ReplaceAllString(s, " ")
	s = promqlGroupings.ReplaceAllString(s, " ")
	s = promqlLabelValues.ReplaceAllString(s, " ($1) ")
	s = promqlLabelValuesOnly.ReplaceAllString(s, " ")
	var names []string
	for _, loc := range promqlTokens.FindAllStringIndex(s, -1) {
		tok := s[loc[0]:loc[1]]
		if c := tok[0]; c >= '0' && c <= '9' || c == '.' {
			continue
		}
		if slices.Contains(promqlKeywords, strings.ToLower(tok)) || strings.HasPrefix(strings.TrimLeft(s[loc[1]:], " \t\n"), "(") {
			continue
		}
		if !slices.Contains(names, tok) {
			names = append(names, tok)
		}
	}
	return names
}

func TestPromQLMetricNames(t *testing.T) {
	t.Parallel()
	for expr, want := range map[string][]string{
		`histogram_quantile(0.95, sum by (le) (rate(a_seconds_bucket{instance=~"$instance", x="by (y)"}[$__rate_interval])))`: {"a_seconds_bucket"},
		`1 - sum(free{i="1"}) / sum(total) * 3600 / 1e9`:                                                                      {"free", "total"},
		`rate(x_total[5m] offset 1h) and on (instance) group_left (job) y > bool 0.5`:                                         {"x_total", "y"},
		`min(score{quantile="0"}) unless ignoring(q) z`:                                                                       {"score", "z"},
		`label_values(computemesh_peers, instance)`:                                                                           {"computemesh_peers"},
		`label_values(up{job="x"}, instance)`:                                                                                 {"up"},
		`label_values(instance)`:                                                                                              nil,
		`sum without (dir) (rate(libp2p_swarm_dial_errors_total{}[${__interval}]))`:                                           {"libp2p_swarm_dial_errors_total"},
	} {
		if got := promqlMetricNames(expr); !slices.Equal(got, want) {
			t.Errorf("promqlMetricNames(%q) = %v, want %v", expr, got, want)
		}
	}
}
