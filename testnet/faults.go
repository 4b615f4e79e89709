package testnet

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/computemesh/computemesh/api"
)

// cpuJob are the flags of a short CPU job of the hello module.
func cpuJob(c Cluster, extra ...string) []string {
	args := append([]string{"--wasm", c.JobPath(HelloModule)}, jobFlags()...)
	return append(args, extra...)
}

// record reads a job's record from the client.
func record(ctx context.Context, c Cluster, client, id string) (*api.JobRecord, error) {
	out, err := c.Meshnode(ctx, client, "job", "describe", id, "--json")
	if err != nil {
		return nil, err
	}
	var r api.JobRecord
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, fmt.Errorf("job describe %s: %w", id, err)
	}
	return &r, nil
}

// waitRunning waits until provider reports a running job.
func waitRunning(ctx context.Context, c Cluster, provider string) error {
	for {
		st, err := StatusOf(ctx, c, provider, false)
		if err == nil && st.Node.Running > 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s never ran the job: %w", provider, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// winsAgain submits jobs that only want (cheapest in region) can win,
// until one is won by it, and returns how long that took.
func winsAgain(ctx context.Context, c Cluster, client, want, wantID string, region string, within time.Duration) (time.Duration, error) {
	start := time.Now()
	var last string
	for time.Since(start) < within {
		r, err := Submit(ctx, c, client, cpuJob(c, "--region", region)...)
		switch {
		case err != nil:
			last = err.Error()
		case r.Provider == wantID:
			return time.Since(start), nil
		default:
			last = "won by " + r.Provider
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(time.Second):
		}
	}
	return 0, fmt.Errorf("%s did not win a job in %s within %s (last: %s)", want, region, within, last)
}

// Kill kills (SIGKILL) a provider while it runs a job: the job must complete
// on another provider; restarted on its data dir, the provider must rejoin
// and win a job again.
func Kill(ctx context.Context, c Cluster, client string) *Check {
	ck := &Check{Scenario: "kill"}
	const victim, region = "prov-euw-cpu", "eu-west" // the cheapest of eu-*: wins the job below
	ids, err := PeerIDs(ctx, c)
	if err != nil {
		return ck.fail("%v", err)
	}
	if _, err := WaitProviders(ctx, c, client, len(Providers(c))); err != nil {
		return ck.fail("%v", err)
	}
	type res struct {
		r   *Result
		err error
	}
	got := make(chan res, 1)
	go func() {
		r, err := Submit(ctx, c, client, "--wasm", c.JobPath(SleepModule), "--cpus", "1", "--memory", "64MiB",
			"--timeout", "60s", "--policy", "cost", "--region", "eu-*")
		got <- res{r, err}
	}()
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	err = waitRunning(wctx, c, victim)
	cancel()
	if err != nil {
		return ck.fail("%v", err)
	}
	killed := time.Now()
	if err := c.Kill(ctx, victim); err != nil {
		return ck.fail("killing %s: %v", victim, err)
	}
	ck.logf("killed %s (SIGKILL) while it ran a %s job", victim, SleepFor)
	out := <-got
	if out.err != nil {
		return ck.fail("the job did not survive the kill: %v", out.err)
	}
	if out.r.Provider == ids[victim] {
		return ck.fail("the job reports the killed provider %s as its runner", victim)
	}
	rec, err := record(ctx, c, client, out.r.Job)
	if err != nil {
		return ck.fail("%v", err)
	}
	var failover time.Duration
	for _, a := range rec.Attempts {
		if a.Provider == out.r.Provider && !a.Running.IsZero() {
			failover = a.Running.Sub(killed)
		}
	}
	ck.logf("the job completed on %s after %d attempts; kill → running on the runner-up: %s", nameOf(ids, out.r.Provider), out.r.Attempts, ms(failover))
	ck.metric("failover_ms", float64(failover)/1e6)
	if err := c.Start(ctx, victim); err != nil {
		return ck.fail("restarting %s: %v", victim, err)
	}
	rejoin, err := winsAgain(ctx, c, client, victim, ids[victim], region, 90*time.Second)
	if err != nil {
		return ck.fail("%v", err)
	}
	ck.metric("rejoin_s", rejoin.Seconds())
	return ck.pass("job completed on another provider after the kill (failover %s, %d attempts); %s restarted and won a job again %.1f s later",
		ms(failover), out.r.Attempts, victim, rejoin.Seconds())
}

// Partitioner cuts nodes off the network and heals them (docker networks).
type Partitioner interface {
	Disconnect(ctx context.Context, node string) error
	Connect(ctx context.Context, node string) error
}

// Partition cuts the region us-east (its two providers, the cheapest CPU
// one among them) off: CPU jobs must go to the rest; healed, the region
// wins jobs again.
func Partition(ctx context.Context, c Cluster, p Partitioner, client string) *Check {
	ck := &Check{Scenario: "partition"}
	cut := []string{"prov-use-cpu", "prov-use-h100"}
	ids, err := PeerIDs(ctx, c)
	if err != nil {
		return ck.fail("%v", err)
	}
	if _, err := WaitProviders(ctx, c, client, len(Providers(c))); err != nil {
		return ck.fail("%v", err)
	}
	if r, err := Submit(ctx, c, client, cpuJob(c)...); err != nil || r.Provider != ids["prov-use-cpu"] {
		return ck.fail("before the cut, a CPU job did not go to prov-use-cpu, the cheapest: %+v %v", r, err)
	}
	for _, n := range cut {
		if err := p.Disconnect(ctx, n); err != nil {
			return ck.fail("cutting %s off: %v", n, err)
		}
	}
	cutAt := time.Now()
	ck.logf("cut us-east off (%v)", cut)
	const jobs = 5
	var elsewhere int
	var first time.Duration
	for i := range jobs {
		r, err := Submit(ctx, c, client, cpuJob(c)...)
		if err != nil {
			ck.logf("job %d during the cut: %v", i, err)
			continue
		}
		if i == 0 {
			first = time.Since(cutAt)
		}
		if slices.Contains([]string{ids[cut[0]], ids[cut[1]]}, r.Provider) {
			return ck.fail("job %d went to the cut-off region (%s)", i, r.Region)
		}
		elsewhere++
		ck.logf("job %d during the cut: %s (%s)", i, nameOf(ids, r.Provider), r.Region)
	}
	if elsewhere != jobs {
		return ck.fail("%d of %d jobs completed during the cut", elsewhere, jobs)
	}
	for _, n := range cut {
		if err := p.Connect(ctx, n); err != nil {
			return ck.fail("healing %s: %v", n, err)
		}
	}
	back, err := winsAgain(ctx, c, client, "prov-use-cpu", ids["prov-use-cpu"], "us-east", 120*time.Second)
	if err != nil {
		return ck.fail("after healing: %v", err)
	}
	ck.metric("return_s", back.Seconds())
	return ck.pass("%d/%d jobs routed around the cut region (first in %s); healed, us-east won a job again %.1f s later",
		elsewhere, jobs, ms(first), back.Seconds())
}

// BootstrapLoss stops both bootstrap nodes: the formed mesh must keep
// scheduling, and a restarted provider must find it again from its saved
// peer list.
func BootstrapLoss(ctx context.Context, c Cluster, client string) *Check {
	ck := &Check{Scenario: "bootstrap-loss"}
	const restarted, region = "prov-euc-cpu", "eu-central"
	ids, err := PeerIDs(ctx, c)
	if err != nil {
		return ck.fail("%v", err)
	}
	if _, err := WaitProviders(ctx, c, client, len(Providers(c))); err != nil {
		return ck.fail("%v", err)
	}
	for _, b := range []string{"boot1", "boot2"} {
		if err := c.Stop(ctx, b); err != nil {
			return ck.fail("stopping %s: %v", b, err)
		}
	}
	defer func() {
		for _, b := range []string{"boot1", "boot2"} {
			_ = c.Start(context.WithoutCancel(ctx), b)
		}
	}()
	ck.logf("stopped boot1 and boot2")
	const jobs = 10
	ok := 0
	for i := range jobs {
		if _, err := Submit(ctx, c, client, cpuJob(c)...); err != nil {
			ck.logf("job %d without bootstrap nodes: %v", i, err)
			continue
		}
		ok++
	}
	if ok != jobs {
		return ck.fail("%d of %d jobs completed without bootstrap nodes", ok, jobs)
	}
	if err := c.Stop(ctx, restarted); err != nil {
		return ck.fail("stopping %s: %v", restarted, err)
	}
	if err := c.Start(ctx, restarted); err != nil {
		return ck.fail("restarting %s: %v", restarted, err)
	}
	back, err := winsAgain(ctx, c, client, restarted, ids[restarted], region, 90*time.Second)
	if err != nil {
		return ck.fail("with both bootstrap nodes down: %v", err)
	}
	return ck.pass("%d/%d jobs completed with both bootstrap nodes down; %s, restarted from its saved peers, won a job %.1f s later",
		ok, jobs, restarted, back.Seconds())
}

// Delayer restarts the cluster with added delays on some nodes (the node's
// connection-level delay on test networks).
type Delayer interface {
	RestartWithDelays(ctx context.Context, delays map[string]time.Duration) error
}

// Latency gives the two cheapest CPU providers an added delay: policy
// latency must avoid them, policy cost must not.
func Latency(ctx context.Context, c Cluster, d Delayer, client string) *Check {
	ck := &Check{Scenario: "latency"}
	delays := map[string]time.Duration{"prov-use-cpu": 150 * time.Millisecond, "prov-aps-l4": 150 * time.Millisecond}
	if err := d.RestartWithDelays(ctx, delays); err != nil {
		return ck.fail("restarting with delays: %v", err)
	}
	defer func() { _ = d.RestartWithDelays(context.WithoutCancel(ctx), nil) }()
	ids, err := PeerIDs(ctx, c)
	if err != nil {
		return ck.fail("%v", err)
	}
	provs, err := WaitProviders(ctx, c, client, len(Providers(c)))
	if err != nil {
		return ck.fail("%v", err)
	}
	delayed := map[string]bool{}
	for n := range delays {
		delayed[ids[n]] = true
	}
	for _, p := range provs {
		ck.logf("RTT to %-14s %s (delayed: %v)", nameOf(ids, p.Peer), ms(p.RTT), delayed[p.Peer])
	}
	const jobs = 5
	var latencyOK, costDelayed int
	for i := range jobs {
		r, err := Submit(ctx, c, client, cpuJob(c, "--policy", "latency")...)
		if err != nil {
			return ck.fail("latency job %d: %v", i, err)
		}
		if !delayed[r.Provider] {
			latencyOK++
		}
		// A wide window: the delayed cheapest's bid (+150 ms) must not
		// miss the default 250 ms on a loaded machine; the auction still
		// closes as soon as every candidate has answered.
		r, err = Submit(ctx, c, client, cpuJob(c, "--bid-window", "2s")...)
		if err != nil {
			return ck.fail("cost job %d: %v", i, err)
		}
		if r.Provider == ids["prov-use-cpu"] {
			costDelayed++
		}
	}
	fig := fmt.Sprintf("policy latency avoided the delayed providers in %d/%d jobs; policy cost chose the delayed cheapest (prov-use-cpu, +150 ms) in %d/%d",
		latencyOK, jobs, costDelayed, jobs)
	if latencyOK != jobs || costDelayed != jobs {
		return ck.fail("%s", fig)
	}
	return ck.pass("%s", fig)
}

// nameOf returns the node name of a peer ID (the ID when unknown).
func nameOf(ids map[string]string, id string) string {
	for n, i := range ids {
		if i == id {
			return n
		}
	}
	return id
}
