package testnet

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/job"
)

// Cluster is a running testnet: the docker compose one (testnet/runner) or
// local processes (meshnode devnet). Node names are those of Topology.
type Cluster interface {
	// Meshnode runs `meshnode ARGS` against the node (its data dir and API)
	// and returns its stdout; a non-zero exit is an *exec.ExitError-wrapping
	// error that quotes stderr, stdout still returned.
	Meshnode(ctx context.Context, node string, args ...string) ([]byte, error)
	Stop(ctx context.Context, node string) error  // SIGTERM, wait
	Kill(ctx context.Context, node string) error  // SIGKILL
	Start(ctx context.Context, node string) error // start a stopped node again on its data dir
	// Nodes lists the cluster's nodes.
	Nodes() []Node
	// JobPath is where a job module (HelloModule, SleepModule) is, as the
	// nodes' meshnode sees it.
	JobPath(module string) string
}

// Status is what `meshnode status --json` says of a node.
type Status struct {
	Node      api.Info           `json:"node"`
	Jobs      map[string]int     `json:"jobs"`
	Providers []api.ProviderInfo `json:"providers"`
	Regions   map[string]int     `json:"regions"`
	Healthy   bool               `json:"healthy"`
	Problem   string             `json:"problem"`
}

// StatusOf asks a node for its status (with providers when asked).
func StatusOf(ctx context.Context, c Cluster, name string, providers bool) (*Status, error) {
	args := []string{"status", "--json"}
	if providers {
		args = append(args, "--providers")
	}
	out, err := c.Meshnode(ctx, name, args...)
	var st Status
	if jerr := json.Unmarshal(out, &st); jerr != nil {
		if err != nil {
			return nil, fmt.Errorf("%s: status: %w", name, err)
		}
		return nil, fmt.Errorf("%s: status: %w", name, jerr)
	}
	return &st, nil
}

// Result is what `meshnode submit --json` says of one job.
type Result struct {
	Job      string    `json:"job"`
	State    job.State `json:"state"`
	Provider string    `json:"provider"`
	Region   string    `json:"region"`
	Price    float64   `json:"price"`
	Charge   float64   `json:"charge"`
	Bids     int       `json:"bids"`
	Declines int       `json:"declines"`
	// Candidates is how many providers the auction asked.
	Candidates int         `json:"candidates"`
	Attempts   int         `json:"attempts"`
	ExitCode   int         `json:"exit_code"`
	Stdout     string      `json:"stdout"`
	Error      string      `json:"error"`
	Timings    job.Timings `json:"timings_ms"`
	// Wall is the time the submit command took, as the caller saw it.
	Wall time.Duration `json:"-"`
}

// Submit submits one job through a node's API and waits for its outcome.
func Submit(ctx context.Context, c Cluster, name string, args ...string) (*Result, error) {
	start := time.Now()
	out, err := c.Meshnode(ctx, name, append([]string{"submit", "--json"}, args...)...)
	var r Result
	if jerr := json.Unmarshal(lastLine(out), &r); jerr != nil {
		if err == nil {
			err = jerr
		}
		return nil, fmt.Errorf("submit %s through %s: %w", strings.Join(args, " "), name, err)
	}
	r.Wall = time.Since(start)
	if r.State != job.StateCompleted || r.ExitCode != 0 {
		return &r, fmt.Errorf("job %s %s (exit %d) on %s: %s", r.Job, r.State, r.ExitCode, r.Provider, r.Error)
	}
	return &r, nil
}

// SubmitMany runs one `meshnode submit --json` that submits several jobs
// (--repeat) through a node's API and returns the outcome of each, in the
// order they finished; err says what made the command fail, if it did.
func SubmitMany(ctx context.Context, c Cluster, name string, args ...string) ([]*Result, error) {
	out, err := c.Meshnode(ctx, name, append([]string{"submit", "--json"}, args...)...)
	var rs []*Result
	for _, line := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		var r Result
		if len(line) == 0 {
			continue
		}
		if jerr := json.Unmarshal(line, &r); jerr != nil {
			return rs, fmt.Errorf("submit through %s: line %q: %w", name, line, jerr)
		}
		rs = append(rs, &r)
	}
	return rs, err
}

// Describe reads a job's record from the node that submitted it (job
// describe --json).
func Describe(ctx context.Context, c Cluster, name, id string) (*api.JobRecord, error) {
	out, err := c.Meshnode(ctx, name, "job", "describe", "--json", id)
	if err != nil {
		return nil, fmt.Errorf("job describe %s on %s: %w", id, name, err)
	}
	var r api.JobRecord
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, fmt.Errorf("job describe %s on %s: %w", id, name, err)
	}
	return &r, nil
}

func lastLine(b []byte) []byte {
	b = bytes.TrimSpace(b)
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		return b[i+1:]
	}
	return b
}

// PeerIDs asks every running node for its peer ID.
func PeerIDs(ctx context.Context, c Cluster) (map[string]string, error) {
	ids := map[string]string{}
	for _, n := range c.Nodes() {
		if n.Role == RoleExtra {
			continue
		}
		st, err := StatusOf(ctx, c, n.Name, false)
		if err != nil {
			return nil, err
		}
		ids[n.Name] = st.Node.PeerID
	}
	return ids, nil
}

// WaitHealthy waits until every named node answers `status` with at least
// one peer (bootstrap nodes: any answer).
func WaitHealthy(ctx context.Context, c Cluster, names ...string) error {
	for _, name := range names {
		for {
			st, err := StatusOf(ctx, c, name, false)
			if err == nil && (st.Node.Peers > 0 || roleOf(c, name) == RoleBootstrap) {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s never became healthy: %v", name, err)
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
	return nil
}

// WaitProviders waits until the client finds want providers through the
// DHT, each with a verified capacity record, and returns them.
func WaitProviders(ctx context.Context, c Cluster, client string, want int) ([]api.ProviderInfo, error) {
	var last []api.ProviderInfo
	for {
		st, err := StatusOf(ctx, c, client, true)
		if err == nil {
			last = last[:0]
			for _, p := range st.Providers {
				if p.Record != nil {
					last = append(last, p)
				}
			}
			if len(last) >= want {
				return last, nil
			}
		}
		select {
		case <-ctx.Done():
			return last, fmt.Errorf("the client found %d of %d providers through the DHT (last error: %v)", len(last), want, err)
		case <-time.After(time.Second):
		}
	}
}

func roleOf(c Cluster, name string) string {
	for _, n := range c.Nodes() {
		if n.Name == name {
			return n.Role
		}
	}
	return ""
}

// Providers returns the names of the cluster's providers.
func Providers(c Cluster) []string {
	var out []string
	for _, n := range c.Nodes() {
		if n.Role == RoleProvider {
			out = append(out, n.Name)
		}
	}
	return out
}

// Check is the result of one scenario: PASS or FAIL with the figure it
// checked.
type Check struct {
	Scenario string
	Pass     bool
	Figure   string
	Details  []string
	Metrics  map[string]float64 // for docs/BENCHMARKS.md
}

func (c *Check) String() string {
	verdict := "PASS"
	if !c.Pass {
		verdict = "FAIL"
	}
	return fmt.Sprintf("%s %s: %s", verdict, c.Scenario, c.Figure)
}

func (c *Check) logf(format string, a ...any) {
	c.Details = append(c.Details, fmt.Sprintf(format, a...))
}

func (c *Check) fail(format string, a ...any) *Check {
	c.Pass = false
	c.Figure = fmt.Sprintf(format, a...)
	return c
}

func (c *Check) pass(format string, a ...any) *Check {
	c.Pass = true
	c.Figure = fmt.Sprintf(format, a...)
	return c
}

func (c *Check) metric(name string, v float64) {
	if c.Metrics == nil {
		c.Metrics = map[string]float64{}
	}
	c.Metrics[name] = v
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/1e6) }

// Fund grants the client credits with the test faucet and waits until the
// providers have heard of the grant: a job (with jobArgs) submitted then
// completes, not declined for funds.
// It returns the outcome of that first job.
func Fund(ctx context.Context, c Cluster, client string, jobArgs ...string) (*Result, error) {
	if _, err := c.Meshnode(ctx, client, "grant", "--test-faucet", "--amount", "1000000"); err != nil {
		return nil, fmt.Errorf("granting the client credits: %w", err)
	}
	for {
		args := append([]string{"--wasm", c.JobPath(HelloModule), "--timeout", "30s"}, jobArgs...)
		r, err := Submit(ctx, c, client, append(args, "--", "funded")...)
		if err == nil {
			return r, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("no job completed after the grant: %v", err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}
