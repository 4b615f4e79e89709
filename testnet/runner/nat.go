package main

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/computemesh/computemesh/testnet"
)

// The nat scenario puts a provider and a client each behind its own NAT:
// a docker network whose traffic to the testnet's network cm-mesh-a is
// masqueraded by the host (Docker's own MASQUERADE rule), with new
// connections from cm-mesh-a into it dropped (DOCKER-USER). Neither can be
// dialled; both dial out to boot1, whose relay joins them.
const natTag = "computemesh-testnet-nat"

type natNet struct {
	name, subnet string
	node         testnet.Node
	args         []string
}

func natNets() []natNet {
	boot := "/ip4/172.28.1.2/tcp/4001/p2p/" + testnet.BootstrapID("boot1")
	common := []string{"--test-faucet", "--listen", "/ip4/0.0.0.0/tcp/4001,/ip4/0.0.0.0/udp/4001/quic-v1",
		"--bootstrap", boot, "--relay", boot, "--reachability", "private"}
	return []natNet{
		{"cm-nat-a", "172.28.11.0/24", testnet.Node{Name: "prov-nat", Role: testnet.RoleExtra, Region: "eu-north", Net: ""},
			append([]string{"start", "--mode", "provider", "--region", "eu-north", "--price-cpu-hour", "1", "--cpus", "2", "--memory", "2GiB"}, common...)},
		{"cm-nat-b", "172.28.12.0/24", testnet.Node{Name: "client-nat", Role: testnet.RoleExtra, Net: ""},
			append([]string{"start", "--mode", "client"}, common...)},
	}
}

// natRules are the iptables rules of one NAT network (table, chain, rule).
func natRules(priv string) [][]string {
	const pub, pubGW = "cm-mesh-a", "172.28.1.1"
	return [][]string{
		{"filter", "DOCKER-USER", "-i", priv, "-o", pub, "-j", "ACCEPT"},
		{"filter", "DOCKER-USER", "-i", pub, "-o", priv, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"},
		{"filter", "DOCKER-USER", "-i", pub, "-o", priv, "-j", "DROP"},
		// Unsolicited UDP to the NAT's public address must not leave conntrack
		// entries that would make the NAT remap a later outbound flow (which
		// would defeat a hole punch).
		{"filter", "INPUT", "-i", pub, "-d", pubGW, "-p", "udp", "-m", "conntrack", "--ctstate", "NEW", "-j", "DROP"},
	}
}

func natUp(ctx context.Context) error {
	for _, n := range natNets() {
		if _, err := run(ctx, nil, "docker", "network", "create", "-d", "bridge", "-o", "com.docker.network.bridge.name="+n.name,
			"--subnet", n.subnet, "--label", natTag, n.name); err != nil {
			return err
		}
		for i, r := range natRules(n.name) {
			pos := i + 1 // DOCKER-USER: in this order, before its final RETURN
			if r[1] == "INPUT" {
				pos = 1
			}
			args := append([]string{"-t", r[0], "-I", r[1], fmt.Sprint(pos)}, r[2:]...)
			if _, err := run(ctx, nil, "iptables", append(args, "-m", "comment", "--comment", natTag)...); err != nil {
				return err
			}
		}
	}
	return nil
}

// natDown removes the NAT nodes, networks, volumes and rules; it is safe
// when none exist.
func natDown(ctx context.Context) {
	for _, n := range natNets() {
		_, _ = run(ctx, nil, "docker", "rm", "-f", container+n.node.Name)
		_, _ = run(ctx, nil, "docker", "volume", "rm", "-f", container+n.node.Name+"-data")
		_, _ = run(ctx, nil, "docker", "network", "rm", n.name)
	}
	if _, err := exec.LookPath("iptables"); err != nil {
		return
	}
	for _, table := range []string{"filter", "nat"} {
		out, err := run(ctx, nil, "iptables", "-t", table, "-S")
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(out), "\n") {
			if !strings.HasPrefix(line, "-A ") || !strings.Contains(line, natTag) {
				continue
			}
			args := append([]string{"-t", table, "-D"}, strings.Fields(strings.ReplaceAll(line[3:], `"`, ""))...)
			_, _ = run(ctx, nil, "iptables", args...)
		}
	}
}

func natScenario(ctx context.Context, c *composeCluster) *testnet.Check {
	ck := &testnet.Check{Scenario: "nat"}
	if err := startNatNodes(ctx, c); err != nil {
		return failf(ck, "%v", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := testnet.WaitHealthy(wctx, c, "prov-nat", "client-nat"); err != nil {
		return failf(ck, "%v", err)
	}
	prov, err := awaitRelayedAddr(ctx, c)
	if err != nil {
		return failf(ck, "%v", err)
	}
	ck.Details = append(ck.Details, "prov-nat (behind NAT) is reachable at "+prov.Node.Relayed[0])
	// From behind its own NAT, the client finds the provider through the DHT
	// and reaches it through the relay alone.
	if _, err := testnet.WaitProviders(wctx, c, "client-nat", 1); err != nil {
		return failf(ck, "%v", err)
	}
	first, err := testnet.Fund(wctx, c, "client-nat", "--region", "eu-north")
	if err != nil {
		return failf(ck, "%v", err)
	}
	if first.Provider != prov.Node.PeerID {
		return failf(ck, "the first job ran on %s, not on the provider behind NAT", first.Provider)
	}
	ck.Details = append(ck.Details, fmt.Sprintf("first job, its 2.6 MB module fetched over the relay: %.1f ms submit→result", first.Timings.Total))
	times, err := natJobs(ctx, c, prov.Node.PeerID)
	if err != nil {
		return failf(ck, "%v", err)
	}
	cl, err := testnet.StatusOf(ctx, c, "client-nat", false)
	if err != nil {
		return failf(ck, "%v", err)
	}
	prov, _ = testnet.StatusOf(ctx, c, "prov-nat", false)
	return natVerdict(ck, prov, cl, first, times)
}

// startNatNodes sets up the NAT networks and starts the nodes behind them.
func startNatNodes(ctx context.Context, c *composeCluster) error {
	natDown(ctx)
	if err := natUp(ctx); err != nil {
		return fmt.Errorf("setting up the NAT networks: %v", err)
	}
	for _, n := range natNets() {
		args := []string{"run", "-d", "--name", container + n.node.Name, "--network", n.name,
			"-v", container + n.node.Name + "-data:/data", "-e", "MESHNODE_DATA_DIR=/data", "-e", "MESHNODE_NETWORK=" + testnet.NetworkName,
			"-e", "GOLOG_LOG_LEVEL=warn", image}
		if _, err := run(ctx, nil, "docker", append(args, n.args...)...); err != nil {
			return fmt.Errorf("starting %s: %v", n.node.Name, err)
		}
		c.extra = append(c.extra, n.node)
	}
	return nil
}

// awaitRelayedAddr waits (a minute at most) for the provider behind NAT to
// have a relayed address.
func awaitRelayedAddr(ctx context.Context, c *composeCluster) (*testnet.Status, error) {
	prov, err := testnet.StatusOf(ctx, c, "prov-nat", false)
	if err != nil {
		return nil, err
	}
	for wait := time.Now(); len(prov.Node.Relayed) == 0; prov, _ = testnet.StatusOf(ctx, c, "prov-nat", false) {
		if time.Since(wait) > time.Minute {
			return nil, fmt.Errorf("the provider behind NAT got no relayed address in a minute (addresses %v)", prov.Node.Addrs)
		}
		time.Sleep(500 * time.Millisecond)
	}
	return prov, nil
}

// natJobs runs 3 jobs from behind NAT, which must run on the provider
// provID, and returns their submit→result times.
func natJobs(ctx context.Context, c *composeCluster, provID string) ([]time.Duration, error) {
	var times []time.Duration
	for i := range 3 {
		r, err := testnet.Submit(ctx, c, "client-nat", "--wasm", c.JobPath(testnet.HelloModule), "--region", "eu-north", "--timeout", "30s", "--", "nat", fmt.Sprint(i))
		if err != nil {
			return nil, fmt.Errorf("job %d from behind NAT: %v", i, err)
		}
		if r.Provider != provID {
			return nil, fmt.Errorf("job %d ran on %s, not on the provider behind NAT", i, r.Provider)
		}
		times = append(times, time.Duration(r.Timings.Total*float64(time.Millisecond)))
	}
	return times, nil
}

// natVerdict reports the connections and hole punching, and passes when
// the jobs went over the relay (or a punched hole).
func natVerdict(ck *testnet.Check, prov, cl *testnet.Status, first *testnet.Result, times []time.Duration) *testnet.Check {
	relayedOnly := slices.Contains(cl.Node.RelayedPeers, prov.Node.PeerID)
	ck.Details = append(ck.Details, fmt.Sprintf("client-nat → prov-nat: %s; client-nat connections %d direct, %d relayed",
		map[bool]string{true: "relayed connection only", false: "a direct connection exists"}[relayedOnly], cl.Node.Conns.Direct, cl.Node.Conns.Relayed))
	slices.Sort(times)
	med := times[len(times)/2]
	if ck.Metrics == nil {
		ck.Metrics = map[string]float64{}
	}
	ck.Metrics["relay_job_ms"] = float64(med) / 1e6
	ck.Metrics["relay_first_job_ms"] = first.Timings.Total
	hp := fmt.Sprintf("hole punching (DCUtR) on prov-nat: active=%v, %d started, %d succeeded; on client-nat: active=%v, %d started, %d succeeded",
		prov.Node.HolePunch.Active, prov.Node.HolePunch.Started, prov.Node.HolePunch.Succeeded,
		cl.Node.HolePunch.Active, cl.Node.HolePunch.Started, cl.Node.HolePunch.Succeeded)
	ck.Details = append(ck.Details, hp)
	punched := prov.Node.HolePunch.Succeeded+cl.Node.HolePunch.Succeeded > 0
	if !punched {
		ck.Details = append(ck.Details, "hole punching: not possible here — go-libp2p starts DCUtR only once a host has a public address, "+
			"and every address of this testnet is RFC 1918 (172.28.0.0/16), so the NAT'd nodes keep the relayed connection. "+
			"Tried: both nodes run the hole punching service, the NAT keeps ports (MASQUERADE) and drops unsolicited UDP to its address so a punch would not be remapped.")
	}
	if !relayedOnly && !punched {
		return failf(ck, "the jobs did not go over the relayed connection (client-nat has a direct connection to prov-nat without a hole punch)")
	}
	ck.Pass = true
	ck.Figure = fmt.Sprintf("4/4 jobs from a client behind NAT completed on a provider behind NAT over boot1's relay; submit→result %.1f ms with the module fetched over the relay, median %.1f ms after; hole punching: %s",
		first.Timings.Total, float64(med)/1e6, map[bool]string{true: "succeeded", false: "not possible here (no public address)"}[punched])
	return ck
}

func failf(ck *testnet.Check, format string, a ...any) *testnet.Check {
	ck.Pass = false
	ck.Figure = fmt.Sprintf(format, a...)
	return ck
}
