package testnet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/computemesh/computemesh/examples/hello"
	"github.com/computemesh/computemesh/examples/sleeper"
)

// Local is the testnet as local processes on 127.0.0.1 (meshnode devnet):
// the same roles as the compose testnet, each node a `meshnode start` of
// the given binary with its data dir under Dir. It has no networks to cut
// (no partition or nat scenario).
type Local struct {
	bin, dir string
	nodes    []Node

	mu     sync.Mutex
	procs  map[string]*exec.Cmd
	exited map[string]chan struct{}
	ports  map[string]int
	delays map[string]time.Duration
}

// LocalNodes is the topology with n providers: the compose testnet's six
// in turn (prov-euw-cpu, ..., then prov-euw-cpu-2, ...).
func LocalNodes(n int) []Node {
	var boots, provs, clients []Node
	for _, t := range Topology() {
		switch t.Role {
		case RoleBootstrap:
			boots = append(boots, t)
		case RoleProvider:
			provs = append(provs, t)
		default:
			clients = append(clients, t)
		}
	}
	out := boots
	for i := range n {
		p := provs[i%len(provs)]
		if i >= len(provs) {
			p.Name = fmt.Sprintf("%s-%d", p.Name, i/len(provs)+1)
		}
		out = append(out, p)
	}
	return append(out, clients...)
}

// StartLocal starts the testnet of nodes from the meshnode binary bin, with
// data dirs under dir, and waits until the client finds every provider
// through the DHT and has credits from the test faucet.
func StartLocal(ctx context.Context, bin, dir string, nodes []Node) (*Local, error) {
	l := &Local{bin: bin, dir: dir, nodes: nodes, procs: map[string]*exec.Cmd{}, exited: map[string]chan struct{}{},
		ports: map[string]int{}, delays: map[string]time.Duration{}}
	if err := os.MkdirAll(filepath.Join(dir, "jobs"), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "jobs", HelloModule), hello.Module(), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "jobs", SleepModule), sleeper.Module(SleepFor), 0o644); err != nil {
		return nil, err
	}
	ports, err := freePorts(len(nodes))
	if err != nil {
		return nil, err
	}
	for i, n := range nodes {
		l.ports[n.Name] = ports[i]
	}
	var names []string
	for _, n := range nodes {
		if err := l.Start(ctx, n.Name); err != nil {
			l.Close()
			return nil, err
		}
		names = append(names, n.Name)
	}
	if err := l.ready(ctx); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

func (l *Local) ready(ctx context.Context) error {
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	var names []string
	for _, n := range l.nodes {
		names = append(names, n.Name)
	}
	if err := WaitHealthy(wctx, l, names...); err != nil {
		return err
	}
	if _, err := WaitProviders(wctx, l, "client", len(Providers(l))); err != nil {
		return err
	}
	for _, n := range l.nodes {
		if n.Name == "client" && n.NoCredits {
			return nil // a network without credits: nothing to grant
		}
	}
	_, err := Fund(wctx, l, "client")
	return err
}

// freePorts returns n distinct TCP ports free on 127.0.0.1 now (their UDP
// twins are almost always free too). Each is held until all are chosen: a
// port closed at once may be handed out again, and libp2p's TCP listeners
// share a port (SO_REUSEPORT), so two nodes given one port would both
// start and the kernel would split the dials between them.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func (l *Local) Nodes() []Node { return l.nodes }

func (l *Local) JobPath(module string) string { return filepath.Join(l.dir, "jobs", module) }

// DataDir is the data dir of the node name (its api.addr and api.token
// among its files).
func (l *Local) DataDir(name string) string { return filepath.Join(l.dir, name) }

func (l *Local) node(name string) (Node, bool) {
	for _, n := range l.nodes {
		if n.Name == name {
			return n, true
		}
	}
	return Node{}, false
}

func (l *Local) env(name string) []string {
	return append(os.Environ(), "MESHNODE_DATA_DIR="+filepath.Join(l.dir, name), "MESHNODE_NETWORK="+NetworkName,
		"GOLOG_LOG_LEVEL="+cmpOr(os.Getenv("GOLOG_LOG_LEVEL"), "warn"))
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// args are the `meshnode start` flags of a node.
func (l *Local) args(n Node) []string {
	port := strconv.Itoa(l.ports[n.Name])
	args := []string{"start", "--listen", "/ip4/127.0.0.1/tcp/" + port + ",/ip4/127.0.0.1/udp/" + port + "/quic-v1", "--api", "127.0.0.1:0"}
	var boot []string
	for _, b := range l.nodes {
		if b.Role == RoleBootstrap && b.Name != n.Name {
			boot = append(boot, fmt.Sprintf("/ip4/127.0.0.1/tcp/%d/p2p/%s", l.ports[b.Name], BootstrapID(b.Name)))
		}
	}
	args = append(args, "--bootstrap", strings.Join(boot, ","))
	switch n.Role {
	case RoleBootstrap:
		args = append(args, "--mode", "client", "--test-identity", n.Name, "--relay-service")
	case RoleProvider:
		args = append(args, n.ProviderArgs()...)
	default:
		args = append(args, "--mode", "client")
	}
	if n.Role != RoleProvider && !n.NoCredits {
		args = append(args, "--test-faucet")
	}
	if d := l.delays[n.Name]; d > 0 {
		args = append(args, "--delay", d.String())
	}
	return args
}

// Meshnode runs `meshnode ARGS` against a node's data dir.
func (l *Local) Meshnode(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, l.bin, args...)
	cmd.Env = l.env(name)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.Bytes(), fmt.Errorf("meshnode %s on %s: %w: %s", strings.Join(args, " "), name, err, strings.TrimSpace(errb.String()))
	}
	return out.Bytes(), nil
}

// Start starts a node (again, on its data dir) and waits until it answers.
func (l *Local) Start(ctx context.Context, name string) error {
	n, ok := l.node(name)
	if !ok {
		return fmt.Errorf("no node %s", name)
	}
	l.mu.Lock()
	if l.procs[name] != nil {
		l.mu.Unlock()
		return fmt.Errorf("%s is running", name)
	}
	if err := os.MkdirAll(filepath.Join(l.dir, name), 0o700); err != nil {
		l.mu.Unlock()
		return err
	}
	logf, err := os.OpenFile(filepath.Join(l.dir, name+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		l.mu.Unlock()
		return err
	}
	cmd := exec.Command(l.bin, l.args(n)...)
	cmd.Env, cmd.Stdout, cmd.Stderr = l.env(name), logf, logf
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		l.mu.Unlock()
		logf.Close()
		return fmt.Errorf("starting %s: %w", name, err)
	}
	done := make(chan struct{})
	l.procs[name], l.exited[name] = cmd, done
	l.mu.Unlock()
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(done)
	}()
	wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	for {
		if _, err := StatusOf(wctx, l, name, false); err == nil {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("%s exited at start (log: %s)", name, filepath.Join(l.dir, name+".log"))
		case <-wctx.Done():
			return fmt.Errorf("%s did not answer within 90 s", name)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// signal sends sig to a node and waits until it has exited.
func (l *Local) signal(ctx context.Context, name string, sig os.Signal) error {
	l.mu.Lock()
	cmd, done := l.procs[name], l.exited[name]
	delete(l.procs, name)
	l.mu.Unlock()
	if cmd == nil {
		return fmt.Errorf("%s is not running", name)
	}
	if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-done:
		return nil
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stop stops a node with SIGTERM (it saves its peers and closes).
func (l *Local) Stop(ctx context.Context, name string) error {
	return l.signal(ctx, name, syscall.SIGTERM)
}

// Kill kills a node with SIGKILL.
func (l *Local) Kill(ctx context.Context, name string) error {
	return l.signal(ctx, name, syscall.SIGKILL)
}

// RestartWithDelays restarts every provider, those named with an added
// delay on all their connections.
func (l *Local) RestartWithDelays(ctx context.Context, delays map[string]time.Duration) error {
	for _, n := range Providers(l) {
		if err := l.Stop(ctx, n); err != nil {
			return err
		}
	}
	l.mu.Lock()
	l.delays = delays
	l.mu.Unlock()
	for _, n := range Providers(l) {
		if err := l.Start(ctx, n); err != nil {
			return err
		}
	}
	return l.ready(ctx)
}

// Close stops every node.
func (l *Local) Close() {
	l.mu.Lock()
	var names []string
	for n := range l.procs {
		names = append(names, n)
	}
	l.mu.Unlock()
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = l.Stop(context.Background(), n)
		}()
	}
	wg.Wait()
}
