package node

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/internal/testfaucet"
	"github.com/computemesh/computemesh/job"
)

// arrayClientEnv carries, to the child process TestJobArrayResumesAfterKill
// starts, the client it is to be (an arrayClient in JSON).
const arrayClientEnv = "COMPUTEMESH_TEST_ARRAY_CLIENT"

// arrayClient is the client node a child process runs, and its array.
type arrayClient struct {
	DataDir string   `json:"data_dir"`
	Network string   `json:"network"`
	Boot    []string `json:"boot"`
	Count   int      `json:"count"`
	Sleep   string   `json:"sleep"`
}

func (a arrayClient) config() Config {
	return Config{Mode: ModeClient, Network: a.Network, Bootstrap: a.Boot, DataDir: a.DataDir, Faucet: testfaucet.ID,
		HeartbeatTimeout: testHeartbeatTimeout}
}

// TestJobArrayClientProcess is the client TestJobArrayResumesAfterKill
// runs in a process of its own and kills mid-array (skipped otherwise).
func TestJobArrayClientProcess(t *testing.T) {
	raw := os.Getenv(arrayClientEnv)
	if raw == "" {
		t.Skip("the child process of TestJobArrayResumesAfterKill")
	}
	var a arrayClient
	if err := json.Unmarshal([]byte(raw), &a); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	n, err := New(ctx, a.config())
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if err := n.Mesh().WaitProviders(wctx, len(a.Boot)); err != nil {
		t.Fatal(err)
	}
	out, err := n.Submit(ctx, arraySpec(a.Count, a.Sleep), func(e job.Event) {
		t.Logf("%-10s %s %d %s", e.Kind, short(e.Provider), e.Count, e.Message)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the array ended before the kill: %s", out.State)
}

// runsOf is how many runs provider n delivered (every result).
func runsOf(t *testing.T, n *Node) int {
	t.Helper()
	mfs, err := n.metrics.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() == "computemesh_provider_runs_total" {
			for _, m := range mf.GetMetric() {
				total += m.GetCounter().GetValue()
			}
		}
	}
	return int(total)
}

// waitLong polls cond for up to bound (generous: it only catches a hang).
func waitLong(t *testing.T, what string, bound time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(bound); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", bound, what)
		}
	}
}

// startArrayClient runs a's client in a child process (this test binary),
// its output in a file it returns; exited is closed when the child has
// exited. The child is killed at the test's end if it still runs.
func startArrayClient(t *testing.T, a arrayClient) (cmd *exec.Cmd, exited chan struct{}, logPath string) {
	t.Helper()
	raw, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	logPath = filepath.Join(t.TempDir(), "client.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logf.Close() })
	cmd = exec.Command(os.Args[0], "-test.run=^TestJobArrayClientProcess$", "-test.v", "-test.timeout=10m")
	cmd.Env = append(os.Environ(), arrayClientEnv+"="+string(raw))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited = make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	return cmd, exited, logPath
}

// slotPayments sums, by provider, the payments for job id in each provider's
// own ledger — its counter-signed receipts and its claims, no voids — apart
// for the awards numbered up to upTo and after it. A slot holding two
// payments fails the test.
func slotPayments(t *testing.T, provs []*Node, payer, id string, upTo int) (before, after map[string]job.Credits) {
	t.Helper()
	before, after = map[string]job.Credits{}, map[string]job.Credits{}
	for _, p := range provs {
		self := p.ID().String()
		seen := map[uint64]job.Credits{}
		for _, rc := range receiptsIn(p, payer, 1<<16) {
			if rc.Job != id || rc.Payee != self || rc.Amount == 0 {
				continue
			}
			if prev, ok := seen[rc.Seq]; ok && prev != rc.Amount {
				t.Fatalf("provider %s: slot %d holds two payments, %s and %s", short(self), rc.Seq, prev, rc.Amount)
			} else if ok {
				continue
			}
			seen[rc.Seq] = rc.Amount
			if rc.Attempt <= upTo {
				before[self] += rc.Amount
			} else {
				after[self] += rc.Amount
			}
		}
	}
	return before, after
}

// A client killed (SIGKILL) in the middle of a job array resumes it at its
// next start and runs only the tasks without a result in its record: the
// tasks that ended before the kill keep their results (each ran once: the
// providers deliver exactly the other tasks' runs after the restart), the
// outcome has every index once, the new slices' receipts pay exactly the
// tasks run again, and the slices cut by the kill are paid by the
// providers' claims, which cover the tasks kept.
func TestJobArrayResumesAfterKill(t *testing.T) {
	t.Parallel()
	const network, count = "test-array-resume", 36
	_, provs := meshWithClient(t, network, Config{Faucet: testfaucet.ID}, arrayProviders()...)
	var boot []string
	for _, p := range provs {
		boot = append(boot, p.Mesh().Addrs()[0].String())
	}
	a := arrayClient{DataDir: t.TempDir(), Network: network, Boot: boot, Count: count, Sleep: "0.5"}
	ctx := context.Background()
	c0, err := New(ctx, a.config()) // the client's identity and its grant, in its data dir
	if err != nil {
		t.Fatal(err)
	}
	self := c0.ID().String()
	wctx, cancel := context.WithTimeout(ctx, 90*time.Second) // the grant is gossiped: on the topics first
	defer cancel()
	if err := c0.Mesh().WaitProviders(wctx, len(provs)); err != nil {
		t.Fatal(err)
	}
	fund(t, network, c0, provs)
	c0.Close()

	child, exited, logPath := startArrayClient(t, a)
	childLog := func() string {
		b, _ := os.ReadFile(logPath)
		return lastLines(b, 60)
	}
	var id string
	waitLong(t, "the child's array to have some tasks done", 3*time.Minute, func() bool {
		select {
		case <-exited:
			t.Fatalf("the client process exited before the kill:\n%s", childLog())
		default:
		}
		list, _ := ReadJobs(a.DataDir)
		if len(list) != 1 {
			return false
		}
		r, err := ReadJob(a.DataDir, list[0].ID)
		id = list[0].ID
		return err == nil && (len(r.Tasks) >= 6 || r.Outcome != nil)
	})
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-exited
	pre, err := ReadJob(a.DataDir, id)
	if err != nil {
		t.Fatal(err)
	}
	if pre.Outcome != nil || len(pre.Tasks) < 6 || len(pre.Tasks) >= count {
		t.Fatalf("at the kill: outcome %v, %d of %d tasks kept; want the array mid-way\n%s", pre.Outcome, len(pre.Tasks), count, childLog())
	}
	kept := map[int]job.TaskResult{}
	for _, tr := range pre.Tasks {
		kept[tr.Index] = tr
	}
	t.Logf("killed the client with %d of %d tasks kept, %d awards made", len(kept), count, pre.Attempted)

	// The slices the kill cut end at their providers (stream reset or
	// connection timeout), each paid by a claim for the results it sent.
	waitLong(t, "the slices cut by the kill to end", 3*time.Minute, func() bool {
		for _, p := range provs {
			if p.credits.Owes(self) != 0 {
				return false
			}
		}
		return true
	})
	before := 0
	for _, p := range provs {
		before += runsOf(t, p)
	}

	c2, err := New(ctx, a.config())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c2.Close() })
	r := waitRecord(t, c2, id, 5*time.Minute, func(r *api.JobRecord) bool { return r.Outcome != nil })
	checkEveryTaskOnce(t, r.Outcome, count)
	if r.Resumes != 1 || len(r.Tasks) != 0 {
		t.Fatalf("resumes %d, %d tasks beside the outcome", r.Resumes, len(r.Tasks))
	}
	for i, tr := range kept {
		got := r.Outcome.Tasks[i]
		if got.Provider != tr.Provider || got.Charge != tr.Charge || !bytes.Equal(got.Stdout, tr.Stdout) || got.RunMS != tr.RunMS {
			t.Fatalf("task %d: kept %+v, the outcome has %+v", i, tr, got)
		}
	}
	waitLong(t, "the resumed slices to be settled", 3*time.Minute, func() bool {
		for _, p := range provs {
			if p.credits.Owes(self) != 0 {
				return false
			}
		}
		return true
	})
	after := 0
	for _, p := range provs {
		after += runsOf(t, p)
	}
	if after-before != count-len(kept) {
		t.Fatalf("after the restart the providers delivered %d runs; want the %d tasks without a result", after-before, count-len(kept))
	}

	keptCharge, rerunCharge := map[string]job.Credits{}, map[string]job.Credits{}
	for _, tr := range r.Outcome.Tasks {
		if _, ok := kept[tr.Index]; ok {
			keptCharge[tr.Provider] += tr.Charge
		} else {
			rerunCharge[tr.Provider] += tr.Charge
		}
	}
	paidBefore, paidAfter := slotPayments(t, provs, self, id, pre.Attempted)
	for _, p := range provs {
		pid := p.ID().String()
		if paidAfter[pid] != rerunCharge[pid] {
			t.Fatalf("provider %s: paid %s after the restart for tasks that charged %s", short(pid), paidAfter[pid], rerunCharge[pid])
		}
		if paidBefore[pid] < keptCharge[pid] {
			t.Fatalf("provider %s: paid %s for the slices the kill cut, its kept tasks charged %s", short(pid), paidBefore[pid], keptCharge[pid])
		}
	}
	t.Logf("kept tasks' charges %v, paid before the restart %v; tasks run again %v, paid after %v", keptCharge, paidBefore, rerunCharge, paidAfter)
}

// lastLines is the last n lines of b.
func lastLines(b []byte, n int) string {
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	return string(bytes.Join(lines[max(0, len(lines)-n):], []byte("\n")))
}
