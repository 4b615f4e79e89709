package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"github.com/computemesh/computemesh/testnet"
)

const (
	project   = "cmtestnet"
	image     = "computemesh/meshnode:testnet"
	container = "cm-" // container names: cm-<node>
)

// composeCluster is the testnet of docker-compose.yml.
type composeCluster struct {
	root    string   // repository root
	compose []string // "docker compose" or "docker-compose"
	nodes   []testnet.Node
	extra   []testnet.Node // nodes a scenario started (nat)
	ips     map[string]map[string]string
}

func newCompose(root string) (*composeCluster, error) {
	c := &composeCluster{root: root, nodes: testnet.Topology(), ips: map[string]map[string]string{}}
	if err := exec.Command("docker", "compose", "version").Run(); err == nil {
		c.compose = []string{"docker", "compose"}
	} else if _, err := exec.LookPath("docker-compose"); err == nil {
		c.compose = []string{"docker-compose"}
	} else {
		return nil, fmt.Errorf("neither `docker compose` nor `docker-compose` is installed")
	}
	return c, nil
}

func (c *composeCluster) Nodes() []testnet.Node {
	return append(c.nodes[:len(c.nodes):len(c.nodes)], c.extra...)
}

func (c *composeCluster) JobPath(module string) string { return "/jobs/" + module }

// run runs a command and returns its stdout; an error quotes stderr.
func run(ctx context.Context, env []string, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		msg := strings.TrimSpace(errb.String())
		if len(msg) > 2000 {
			msg = msg[len(msg)-2000:]
		}
		err = fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, msg)
	}
	return out.Bytes(), err
}

func (c *composeCluster) composeRun(ctx context.Context, env []string, args ...string) ([]byte, error) {
	full := append(c.compose[1:len(c.compose):len(c.compose)], "-f", filepath.Join(c.root, "testnet", "docker-compose.yml"), "-p", project)
	return run(ctx, env, c.compose[0], append(full, args...)...)
}

func (c *composeCluster) Meshnode(ctx context.Context, node string, args ...string) ([]byte, error) {
	return run(ctx, nil, "docker", append([]string{"exec", container + node, "/meshnode"}, args...)...)
}

func (c *composeCluster) Stop(ctx context.Context, node string) error {
	_, err := run(ctx, nil, "docker", "stop", "-t", "10", container+node)
	return err
}

func (c *composeCluster) Kill(ctx context.Context, node string) error {
	_, err := run(ctx, nil, "docker", "kill", "--signal", "KILL", container+node)
	return err
}

func (c *composeCluster) Start(ctx context.Context, node string) error {
	if _, err := run(ctx, nil, "docker", "start", container+node); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	return testnet.WaitHealthy(wctx, c, node)
}

func netsOf(n testnet.Node) []string {
	var out []string
	for _, x := range n.Net {
		out = append(out, "cm-mesh-"+string(x))
	}
	return out
}

func (c *composeCluster) node(name string) testnet.Node {
	for _, n := range c.Nodes() {
		if n.Name == name {
			return n
		}
	}
	return testnet.Node{Name: name}
}

// Disconnect takes a node off its docker networks, remembering its
// addresses for Connect.
func (c *composeCluster) Disconnect(ctx context.Context, node string) error {
	c.ips[node] = map[string]string{}
	for _, net := range netsOf(c.node(node)) {
		ip, err := run(ctx, nil, "docker", "inspect", "-f", `{{(index .NetworkSettings.Networks "`+net+`").IPAddress}}`, container+node)
		if err != nil {
			return err
		}
		c.ips[node][net] = strings.TrimSpace(string(ip))
		if _, err := run(ctx, nil, "docker", "network", "disconnect", net, container+node); err != nil {
			return err
		}
	}
	return nil
}

// Connect puts a node back on its networks at its old addresses.
func (c *composeCluster) Connect(ctx context.Context, node string) error {
	for _, net := range netsOf(c.node(node)) {
		args := []string{"network", "connect"}
		if ip := c.ips[node][net]; ip != "" {
			args = append(args, "--ip", ip)
		}
		if _, err := run(ctx, nil, "docker", append(args, net, container+node)...); err != nil {
			return err
		}
	}
	return nil
}

// up starts the testnet from nothing (down -v first: docker-compose 1.29
// cannot recreate containers on recent engines) with the given delays, and
// waits until every node is healthy and the client finds every provider
// through the DHT. It returns that time.
func (c *composeCluster) up(ctx context.Context, delays map[string]time.Duration) (time.Duration, error) {
	if err := c.down(ctx); err != nil {
		return 0, err
	}
	env := []string{"CM_OWNER=" + owner(c.root)}
	for n, d := range delays {
		env = append(env, "CM_DELAY_"+strings.ToUpper(strings.ReplaceAll(n, "-", "_"))+"="+d.String())
	}
	start := time.Now()
	if _, err := c.composeRun(ctx, env, "up", "-d"); err != nil {
		return 0, err
	}
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	var names []string
	for _, n := range c.nodes {
		names = append(names, n.Name)
	}
	if err := testnet.WaitHealthy(wctx, c, names...); err != nil {
		return 0, err
	}
	if _, err := testnet.WaitProviders(wctx, c, "client", len(testnet.Providers(c))); err != nil {
		return 0, err
	}
	found := time.Since(start)
	if _, err := testnet.Fund(wctx, c, "client"); err != nil {
		return 0, err
	}
	return found, nil
}

// down removes the testnet's containers, networks and volumes, and what
// the nat scenario added; it succeeds when there is nothing to remove.
func (c *composeCluster) down(ctx context.Context) error {
	if err := c.mine(ctx); err != nil {
		return err
	}
	natDown(ctx)
	_, err := c.composeRun(ctx, nil, "down", "-v", "--remove-orphans", "-t", "5")
	return err
}

// RestartWithDelays is testnet.Delayer: the whole testnet again, with delays.
func (c *composeCluster) RestartWithDelays(ctx context.Context, delays map[string]time.Duration) error {
	_, err := c.up(ctx, delays)
	return err
}

// ownerLabel marks the testnet's containers with who started them: the
// names (cm-*) and subnets are fixed, so one Docker host runs one testnet,
// and a checkout must not tear down another's.
const ownerLabel = "computemesh.testnet.owner"

// owner is this checkout's mark: user, host and repository root.
func owner(root string) string {
	host, _ := os.Hostname()
	name := os.Getenv("USER")
	if u, err := user.Current(); name == "" && err == nil {
		name = u.Username
	}
	return fmt.Sprintf("%s@%s:%s", name, host, root)
}

// mine refuses when a testnet that another checkout started runs on this
// Docker host (TESTNET_FORCE=1 takes it over all the same).
func (c *composeCluster) mine(ctx context.Context) error {
	out, err := run(ctx, nil, "docker", "inspect", "-f", `{{index .Config.Labels "`+ownerLabel+`"}}`, container+"client")
	if err != nil {
		return nil // no testnet (or none labelled)
	}
	other := strings.TrimSpace(string(out))
	if other == "" || other == "<no value>" || other == owner(c.root) || os.Getenv("TESTNET_FORCE") == "1" {
		return nil
	}
	return fmt.Errorf("the testnet on this Docker host was started by %s, not this checkout (%s): stop it there with testnet/run.sh down, or set TESTNET_FORCE=1 to take it over", other, owner(c.root))
}

// running says whether the testnet's client container runs.
func (c *composeCluster) running(ctx context.Context) bool {
	out, err := run(ctx, nil, "docker", "inspect", "-f", "{{.State.Running}}", container+"client")
	return err == nil && strings.TrimSpace(string(out)) == "true"
}

// saveLogs writes every node's log under dir.
func (c *composeCluster) saveLogs(ctx context.Context, dir string) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "logs:", err)
		return
	}
	for _, n := range c.Nodes() {
		cmd := exec.CommandContext(ctx, "docker", "logs", "-t", container+n.Name)
		out, _ := cmd.CombinedOutput()
		_ = os.WriteFile(filepath.Join(dir, n.Name+".log"), out, 0o644)
	}
	fmt.Fprintf(os.Stderr, "logs of every node are in %s\n", dir)
}
