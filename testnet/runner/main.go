// Command runner drives the docker compose testnet; testnet/run.sh calls
// it. Usage: run.sh build|up|down|status|smoke|kill|partition|latency|
// bootstrap-loss|nat|all. Each scenario prints PASS or FAIL with the figure
// it checked and exits non-zero on failure, leaving every node's log under
// testnet/out/<scenario>/ and the network torn down.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/computemesh/computemesh/examples/sleeper"
	"github.com/computemesh/computemesh/internal/idref"
	"github.com/computemesh/computemesh/testnet"
)

const usage = `usage: testnet/run.sh COMMAND
  build           build the static meshnode and the image ` + image + `
  up              start the testnet (down -v first) and wait until the client finds every provider
  down            remove its containers, networks and volumes (always safe)
  status          peers, connections, providers per region and jobs of every node
  smoke           50 jobs (CPU and GPU): all complete, each at the cheapest feasible provider
  kill            SIGKILL a provider mid-job: the job completes elsewhere; restarted, it wins again
  partition       cut us-east off its network: jobs route to the rest; healed, it returns
  latency         delay the two cheapest providers: policy latency avoids them, cost does not
  bootstrap-loss  stop both bootstrap nodes: the mesh keeps scheduling, a restarted provider rejoins
  nat             a provider and a client behind NAT meet through a relay; hole punching reported
  all             every scenario in turn
Scenarios start the testnet when it is not running. Results are appended to testnet/out/results.jsonl.`

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run1(ctx, os.Args[1])
	stop()
	os.Exit(code)
}

func repoRoot() string {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		wd, _ := os.Getwd()
		return wd
	}
	return strings.TrimSpace(string(out))
}

func run1(ctx context.Context, cmd string) int {
	root := repoRoot()
	c, err := newCompose(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testnet:", err)
		return 1
	}
	out := filepath.Join(root, "testnet", "out")
	switch cmd {
	case "build":
		return report(build(ctx, root))
	case "up":
		if err := build(ctx, root); err != nil {
			return report(err)
		}
		d, err := c.up(ctx, nil)
		if err != nil {
			c.saveLogs(context.WithoutCancel(ctx), filepath.Join(out, "up"))
			_ = c.down(context.WithoutCancel(ctx))
			return report(err)
		}
		fmt.Printf("testnet up: %d nodes healthy and every provider found through the DHT in %.1f s\n", len(c.nodes), d.Seconds())
		record(out, &testnet.Check{Scenario: "up", Pass: true, Figure: fmt.Sprintf("%.1f s", d.Seconds()), Metrics: map[string]float64{"up_s": d.Seconds()}})
		return 0
	case "down":
		return report(c.down(ctx))
	case "status":
		return report(status(ctx, c))
	case "smoke", "kill", "partition", "latency", "bootstrap-loss", "nat":
		started := !c.running(ctx)
		code := scenario(ctx, c, root, out, cmd)
		if started && code == 0 { // it came up for this scenario alone: gone with it
			return max(code, report(c.down(context.WithoutCancel(ctx))))
		}
		return code
	case "all":
		started, code := !c.running(ctx), 0
		for _, s := range []string{"smoke", "kill", "partition", "latency", "bootstrap-loss", "nat"} {
			if scenario(ctx, c, root, out, s) != 0 {
				code = 1
			}
		}
		if started && c.running(ctx) {
			code = max(code, report(c.down(context.WithoutCancel(ctx))))
		}
		return code
	default:
		fmt.Fprintln(os.Stderr, usage)
		return 2
	}
}

func report(err error) int {
	if err != nil {
		fmt.Fprintln(os.Stderr, "testnet:", err)
		return 1
	}
	return 0
}

// scenario runs one scenario against the running testnet (started first
// when it is not), prints its check and records it; a failure leaves the
// logs and tears the testnet down.
func scenario(ctx context.Context, c *composeCluster, root, out, name string) int {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	if !c.running(ctx) {
		if err := build(ctx, root); err != nil {
			return report(err)
		}
		d, err := c.up(ctx, nil)
		if err != nil {
			fmt.Printf("FAIL %s: the testnet did not come up: %v\n", name, err)
			c.saveLogs(context.WithoutCancel(ctx), filepath.Join(out, name))
			_ = c.down(context.WithoutCancel(ctx))
			return 1
		}
		fmt.Printf("testnet up in %.1f s\n", d.Seconds())
	}
	var ck *testnet.Check
	switch name {
	case "smoke":
		ck = testnet.Smoke(ctx, c, "client", 16)
	case "kill":
		ck = testnet.Kill(ctx, c, "client")
	case "partition":
		ck = testnet.Partition(ctx, c, c, "client")
	case "latency":
		ck = testnet.Latency(ctx, c, c, "client")
	case "bootstrap-loss":
		ck = testnet.BootstrapLoss(ctx, c, "client")
	case "nat":
		ck = natScenario(ctx, c)
	}
	for _, d := range ck.Details {
		fmt.Println("  " + d)
	}
	fmt.Println(ck)
	record(out, ck)
	if !ck.Pass {
		bg := context.WithoutCancel(ctx)
		c.saveLogs(bg, filepath.Join(out, name))
		if err := c.down(bg); err != nil {
			fmt.Fprintln(os.Stderr, "down:", err)
		}
		return 1
	}
	return 0
}

// record appends a check to testnet/out/results.jsonl.
func record(out string, ck *testnet.Check) {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return
	}
	f, err := os.OpenFile(filepath.Join(out, "results.jsonl"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	_ = json.NewEncoder(f).Encode(map[string]any{
		"time": time.Now().UTC().Format(time.RFC3339), "scenario": ck.Scenario, "pass": ck.Pass, "figure": ck.Figure, "metrics": ck.Metrics,
		"details": ck.Details,
	})
}

// build compiles the static meshnode, writes the job modules and builds
// the image FROM scratch.
func build(ctx context.Context, root string) error {
	dir := filepath.Join(root, "testnet", "build")
	for _, d := range []string{"jobs", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.Chmod(filepath.Join(dir, "tmp"), 0o1777); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", filepath.Join(dir, "meshnode"), "./cmd/meshnode")
	cmd.Dir, cmd.Env = root, append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building meshnode: %v\n%s", err, out)
	}
	hello, err := os.ReadFile(filepath.Join(root, "examples", "hello", "hello.wasm"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "jobs", testnet.HelloModule), hello, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "jobs", testnet.SleepModule), sleeper.Module(testnet.SleepFor), 0o644); err != nil {
		return err
	}
	if _, err := run(ctx, nil, "docker", "build", "-q", "-t", image, "-f", filepath.Join(root, "testnet", "Dockerfile"), dir); err != nil {
		return fmt.Errorf("building the image: %w", err)
	}
	return nil
}

// status prints every node's view.
func status(ctx context.Context, c *composeCluster) error {
	if !c.running(ctx) {
		return errors.New("the testnet is not running (run.sh up)")
	}
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tPEER\tREGION\tPEERS\tDIRECT/RELAYED\tRUNNING\tJOBS\tHEALTH")
	var client *testnet.Status
	for _, n := range c.Nodes() {
		st, err := testnet.StatusOf(ctx, c, n.Name, n.Role == testnet.RoleClient)
		if err != nil {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\t-\tdown: %v\n", n.Name, firstLine(err.Error()))
			continue
		}
		if n.Role == testnet.RoleClient {
			client = st
		}
		var jobs []string
		for _, s := range slices.Sorted(maps.Keys(st.Jobs)) {
			jobs = append(jobs, fmt.Sprintf("%s %d", s, st.Jobs[s]))
		}
		health := "healthy"
		if !st.Healthy {
			health = st.Problem
		}
		in := st.Node
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d/%d\t%d\t%s\t%s\n", n.Name, shortID(in.PeerID), dash(in.Region), in.Peers,
			in.Conns.Direct, in.Conns.Relayed, in.Running, dash(strings.Join(jobs, ", ")), health)
	}
	tw.Flush()
	if client != nil {
		var parts []string
		for _, r := range slices.Sorted(maps.Keys(client.Regions)) {
			parts = append(parts, fmt.Sprintf("%s %d", r, client.Regions[r]))
		}
		fmt.Printf("\nproviders the client finds through the DHT: %d (%s)\n", len(client.Providers), strings.Join(parts, ", "))
	}
	return nil
}

// shortID is the form every table prints, which the CLI takes back.
func shortID(id string) string { return idref.Short(id) }

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return s
}
