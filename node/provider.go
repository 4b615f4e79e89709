package node

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"sync"
	"time"

	"github.com/computemesh/computemesh/content"
	"github.com/computemesh/computemesh/executor"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/market"
	"github.com/computemesh/computemesh/mesh"
	"github.com/computemesh/computemesh/scheduler"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// clockSkew is how far a request's bid deadline may lie in the past, by this
// node's clock, before the provider stops answering it.
const clockSkew = 2 * time.Second

func (n *Node) startProvider() error {
	classes := []string{mesh.ClassCPU}
	if len(n.record.GPUs) > 0 {
		classes = append(classes, mesh.ClassGPU) // a CPU-only provider never hears GPU jobs
	}
	if err := n.mesh.OnRequest(n.reqs.push, classes...); err != nil {
		return err
	}
	for range requestWorkers {
		n.spawn(n.answerRequests)
	}
	n.serve("award", n.handleAward)
	n.serve(holdProto, n.handleHold)
	n.record.Peer = n.ID().String()
	if err := n.record.Validate(); err != nil {
		return fmt.Errorf("capacity record: %w", err)
	}
	n.serveChallenges()
	n.mesh.Announce(capabilities(&n.record), n.announce)
	n.startPublisher(n.record)
	n.spawn(n.expireBids)
	return nil
}

func requestDigest(r *job.Request) [32]byte { return sha256.Sum256(job.Encode(r)) }

// hasImage says whether the Docker daemon holds an image (cached for a
// while: a request must be answered in milliseconds).
func (n *Node) hasImage(ref string) bool {
	if n.docker == nil {
		return false
	}
	n.imagesMu.Lock()
	e, ok := n.images[ref]
	n.imagesMu.Unlock()
	if ok && time.Since(e.at) < 30*time.Second {
		return e.ok
	}
	ctx, cancel := context.WithTimeout(n.ctx, 2*time.Second)
	defer cancel()
	present := n.docker.Validate(ctx, executor.Task{Image: ref, Timeout: time.Second, CPUMillis: 1000, MemoryBytes: 64 << 20}) == nil
	n.imagesMu.Lock()
	if n.images == nil || len(n.images) > 1024 {
		n.images = map[string]imageSeen{}
	}
	n.images[ref] = imageSeen{ok: present, at: time.Now()}
	n.imagesMu.Unlock()
	return present
}

type imageSeen struct {
	ok bool
	at time.Time
}

// requestWorkers is how many requests a provider answers at once (an
// answer may wait up to 2 s on the Docker daemon for an image).
const requestWorkers = 2

// answerRequests answers the queued job requests, each client in turn.
func (n *Node) answerRequests() {
	for {
		q, ok := n.reqs.pop(n.ctx)
		if !ok {
			return
		}
		n.onRequest(q.r, q.from)
	}
}

// onRequest answers a gossiped job request with a bid or a decline.
func (n *Node) onRequest(r *job.Request, from peer.ID) {
	if r.BidByMS != 0 && time.Now().UnixMilli() > r.BidByMS+clockSkew.Milliseconds() {
		return // the window has closed: answering would only add traffic
	}
	if !n.mesh.TakesBids(from) {
		return // a peer that refused the bid protocol: it waits for no bid
	}
	prev, answered := n.bids.get(r.Job)
	if answered && prev.bidBy == r.BidByMS && prev.client == r.Client {
		return // a re-gossiped request: the bid stands
	}
	b := scheduler.AdmitState(&n.offer, r, scheduler.State{
		Free: n.reserved.Free(), Running: n.reserved.Running(), Queued: n.reserved.Queued(), AvgRun: n.runTimes.mean(),
	})
	if n.draining.Load() {
		b.Decline, b.Detail, b.Price = job.DeclineBusy, "draining: taking no new jobs", 0
	}
	if b.Decline == "" && r.Network && !n.cfg.AllowJobNetwork {
		b.Decline, b.Detail, b.Price = job.DeclineNetwork, "this provider's owner does not allow jobs network access", 0
	}
	if b.Decline == "" && r.Executor == job.ExecutorDocker && !n.hasImage(r.Image) {
		b.Decline, b.Detail, b.Price = job.DeclineImage, "image "+r.Image+" is not present here", 0
	}
	if b.Decline == "" && r.Executor == job.ExecutorExec && (n.cmds == nil || !n.cmds.Allowed(r.Command)) {
		b.Decline, b.Detail, b.Price = job.DeclineCommand, "command "+r.Command+" is not allowed here", 0
	}
	b.Provider = n.ID().String()
	b.ExpiresMS = n.loserExpiry(r, time.Now()).UnixMilli()
	if b.Decline == "" && n.cfg.Faucet != "" {
		n.credits.Judge(n.ctx, from) // its records, from its holders (once in a while)
	}
	if b.Decline == "" {
		st := standing{client: r.Client, price: b.Price, rates: b.Rates, expires: b.ExpiresMS, bidBy: r.BidByMS,
			timeoutMS: r.TimeoutMS, req: requestDigest(r)}
		// On a network with credits, what the client's standing bids here
		// commit, this one included, must be covered by its balance.
		if decline, why := n.bids.put(r.Job, st, func(committed job.Credits) string {
			return n.credits.Funded(r.Client, committed+n.credits.Owes(r.Client), b.Price)
		}); decline != "" {
			b.Decline, b.Detail, b.Price = decline, why, 0
		}
	}
	if b.Decline != "" {
		n.metrics.answers.WithLabelValues(string(b.Decline)).Inc()
	} else {
		n.metrics.answers.WithLabelValues("bid").Inc()
	}
	ctx, cancel := context.WithTimeout(n.ctx, 5*time.Second)
	defer cancel()
	// from is the request's author, which the jobs topic's validator
	// checked is its client.
	if err := n.mesh.SendBid(ctx, &b, from); err != nil {
		log.Debugf("answering job %s from %s: %v", r.Job, from, err)
	}
}

// handleAward runs an awarded job: check the award against the bid this
// provider made, reserve (late binding) or decline, fetch the module by CID
// from the client, run it, and return the result with the charge.
func (n *Node) handleAward(s network.Stream) {
	defer s.Close()
	client := s.Conn().RemotePeer()
	_ = s.SetReadDeadline(time.Now().Add(30 * time.Second))
	var a job.Award
	br := bufio.NewReader(s)
	if err := mesh.ReadMsg(br, job.MaxAwardSize, &a); err != nil {
		log.Debugf("award from %s: %v", client, err)
		_ = mesh.WriteMsg(s, job.Reply{Type: job.ReplyDeclined, Reason: "invalid award: " + err.Error()})
		return
	}
	decline := func(format string, args ...any) {
		reason := fmt.Sprintf(format, args...)
		log.Infof("declining award of job %s from %s: %s", a.Job, client, reason)
		_ = mesh.WriteMsg(s, job.Reply{Type: job.ReplyDeclined, Reason: reason})
	}
	st, why := n.admitAward(&a, client)
	if why != "" {
		decline("%s", why)
		return
	}
	// The client going away (a reset or closed stream) cancels the wait or
	// the run.
	runCtx, cancelRun := context.WithCancel(n.ctx)
	defer cancelRun()
	_ = s.SetReadDeadline(time.Time{})
	// The client sends nothing more until the result, then its receipt:
	// any byte, or the stream ending, before then means it went away.
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		_, _ = br.Peek(1)
		cancelRun()
	}()
	// From here the stream carries heartbeats: the client tells a queued or
	// slow job from a dead provider.
	logs := newLogStream(s)
	err := n.reserved.Wait(runCtx, a.Job, a.Spec.Resources, n.cfg.Queue, func(pos int) {
		log.Infof("job %s from %s queued at position %d", a.Job, client, pos)
		_ = logs.Send(job.Reply{Type: job.ReplyQueued, Position: pos})
	})
	if err != nil {
		logs.Close()
		n.credits.Settle(a.Job, a.Attempt) // never ran: nothing to pay
		if runCtx.Err() == nil {
			decline("%v", err)
		}
		return
	}
	n.capacityChanged()
	release := sync.OnceFunc(func() {
		n.reserved.Release(a.Job)
		n.capacityChanged()
	})
	defer release()
	if err := logs.Send(job.Reply{Type: job.ReplyAccepted}); err != nil {
		logs.Close()
		return
	}
	started := time.Now()
	res := n.run(runCtx, &a, client, st.rates, logs)
	logs.Close()
	release() // the capacity is free while the result and receipt travel
	n.runTimes.add(time.Since(started))
	if res.Error != "" && runCtx.Err() != nil && n.ctx.Err() == nil {
		// Cancelled by the client (or it went away): the time it ran is
		// paid, on its authorisation.
		n.credits.Claim(&a, n.meter(&a, st.rates, time.Since(started)), "cancelled by the client after running "+time.Since(started).Round(time.Millisecond).String())
		return
	}
	n.deliver(s, br, &a, client, res, watched)
}

// admitAward checks an award against the bid this provider made (one
// award per bid, to its client, unexpired, for exactly the request and
// price bid on) and, on a network with credits, the client's authorisation
// and balance beside its other unpaid runs here. It returns the standing
// bid, or why the award is declined.
func (n *Node) admitAward(a *job.Award, client peer.ID) (standing, string) {
	if a.Client != client.String() {
		return standing{}, fmt.Sprintf("award sent by %s for client %s", client, a.Client)
	}
	st, ok := n.bids.take(a.Job) // one award per bid
	switch {
	case !ok:
		return st, fmt.Sprintf("no standing bid for job %s", a.Job)
	case st.client != a.Client:
		return st, fmt.Sprintf("my bid for job %s was made to another client", a.Job)
	case time.Now().UnixMilli() > st.expires:
		return st, fmt.Sprintf("my bid for job %s has expired", a.Job)
	case requestDigest(job.NewRequest(a.Job, a.Client, &a.Spec, st.bidBy)) != st.req:
		// The gossiped request is not bound to the spec by the job ID: a
		// client could ask for little and award much. What was bid on must
		// be what is awarded.
		return st, "the awarded spec does not match the request I bid on (resources, timeout, module, region or price differ)"
	case a.Bid.Price != st.price || a.Bid.Rates != st.rates:
		return st, fmt.Sprintf("the award's price %s is not my bid's %s", a.Bid.Price, st.price)
	}
	if n.draining.Load() {
		return st, "draining: taking no new jobs"
	}
	if n.cfg.Faucet != "" {
		pay := max(a.Pay, a.Bid.Price)
		if why := n.credits.CheckAuthorization(a, client, pay); why != "" {
			return st, why
		}
		// The balance must cover this run beside the runs here it has not
		// paid for yet; the authorisation is kept until its receipt comes.
		if why := n.credits.Reserve(a, func(owes job.Credits) string { return n.credits.Funded(client.String(), owes, pay) }); why != "" {
			return st, why
		}
	}
	return st, ""
}

// deliver sends a run's result and takes its receipt, or claims the
// charge when the client went away or sent no valid receipt.
func (n *Node) deliver(s network.Stream, br *bufio.Reader, a *job.Award, client peer.ID, res *job.Result, watched <-chan struct{}) {
	_ = s.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if err := mesh.WriteMsg(s, job.Reply{Type: job.ReplyResult, Result: res}); err != nil {
		log.Warnf("returning the result of job %s to %s: %v", a.Job, client, err)
		if res.Error == "" {
			n.credits.Claim(a, res.Charge, "the client went away before the result")
		}
		return
	}
	n.countRun(res)
	if res.Error != "" {
		n.credits.Settle(a.Job, a.Attempt) // charged nothing
		return
	}
	n.session.earn(res.Charge)
	n.metrics.earned.Add(float64(res.Charge))
	<-watched // the receipt's first byte woke the watcher, or the client left
	if err := n.credits.TakeReceipt(s, br, a, client, res.Charge); err != nil {
		n.metrics.unreceipted.Inc()
		log.Warnf("job %s attempt %d: no receipt from %s: %v", a.Job, a.Attempt, client, err)
		n.credits.Claim(a, res.Charge, "no receipt: "+err.Error())
		return
	}
	n.credits.Settle(a.Job, a.Attempt)
}

// countRun counts a delivered run by how it ended.
func (n *Node) countRun(res *job.Result) {
	switch {
	case res.Error != "":
		n.metrics.runs.WithLabelValues("error").Inc()
	case res.TimedOut:
		n.metrics.runs.WithLabelValues("timeout").Inc()
	case res.DiskExceeded:
		n.metrics.runs.WithLabelValues("disk_exceeded").Inc()
	case res.ExitCode != 0:
		n.metrics.runs.WithLabelValues("nonzero_exit").Inc()
	default:
		n.metrics.runs.WithLabelValues("ok").Inc()
	}
}

// meter returns what a run of d costs at the bid's rates (scaled like a
// result's charge): what a cancelled run claims.
func (n *Node) meter(a *job.Award, rates job.Rates, d time.Duration) job.Credits {
	charge, err := market.Charge(rates, a.Spec.Resources, a.Spec.Timeout(), min(d, a.Spec.Timeout()))
	if err != nil {
		return 0
	}
	return market.Scale(charge, a.Bid.Price, a.Pay)
}

func (n *Node) run(ctx context.Context, a *job.Award, client peer.ID, rates job.Rates, logs io.Writer) *job.Result {
	res := &job.Result{Job: a.Job, Provider: n.ID().String(), ExitCode: -1}
	ex := n.exec[a.Spec.Executor]
	if ex == nil {
		res.Error = fmt.Sprintf("this provider does not run %s jobs", a.Spec.Executor)
		return res
	}
	ctx, cancel := context.WithTimeout(ctx, a.Spec.Timeout()+time.Minute)
	defer cancel()
	inDir, outDir, cleanup, err := n.workDirs()
	if err != nil {
		res.Error = "work directory: " + err.Error()
		return res
	}
	defer cleanup()
	if err := n.content.StageInputs(ctx, client, a.Spec.Inputs, inDir); err != nil {
		res.Error = "fetching inputs: " + err.Error()
		return res
	}
	env := a.Spec.Env
	if len(a.Secrets) > 0 {
		env = maps.Clone(env)
		if env == nil {
			env = map[string]string{}
		}
		maps.Copy(env, a.Secrets)
	}
	r, err := n.runTask(ctx, ex, a, client, env, inDir, outDir, logs)
	if err != nil {
		switch {
		case n.ctx.Err() != nil:
			res.Error = "cancelled: the provider is shutting down"
		case ctx.Err() != nil:
			res.Error = "cancelled: the client went away"
		default:
			res.Error = err.Error()
		}
		return res
	}
	var outputs string
	var blobs []string
	if !r.DiskExceeded { // stopped for its outputs: they are not kept
		outputs, blobs, err = n.content.CollectOutputs(outDir, a.Spec.Resources.DiskBytes)
	}
	switch {
	case errors.Is(err, content.ErrOutputsOverLimit):
		r.DiskExceeded, r.Reason = true, err.Error() // charged for its time, outputs dropped
	case err != nil:
		res.Error = "collecting outputs: " + err.Error()
		return res
	}
	if outputs != "" {
		res.Outputs = outputs
		until := time.Now().Add(content.OutputsGrant)
		n.content.Grant(client, until, blobs...) // the client alone may fetch them
		n.content.Hold(until, blobs...)          // and then they go
	}
	res.ExitCode = r.ExitCode
	res.Stdout, res.Stderr = truncated(r.Stdout, r.StdoutTruncated), truncated(r.Stderr, r.StderrTruncated)
	res.StdoutTruncated, res.StderrTruncated = r.StdoutTruncated, r.StderrTruncated
	res.TimedOut, res.MemoryExceeded, res.DiskExceeded = r.TimedOut, r.MemoryExceeded, r.DiskExceeded
	res.RunMS = float64(r.Duration) / float64(time.Millisecond)
	res.CPUSeconds, res.GPUSeconds, res.PeakMemoryBytes = r.CPUSeconds, r.GPUSeconds, r.PeakMemoryBytes
	charge, err := market.Charge(rates, a.Spec.Resources, a.Spec.Timeout(), r.Duration)
	if err != nil {
		res.Error = "metering: " + err.Error()
		return res
	}
	res.Charge = market.Scale(charge, a.Bid.Price, a.Pay)
	log.Infof("ran %s job %s for %s: exit %d in %.1fms (%.3f CPU s, %.3f GPU s), charge %s credits",
		a.Spec.Executor, a.Job, client, r.ExitCode, res.RunMS, r.CPUSeconds, r.GPUSeconds, charge)
	return res
}

// truncated appends a marker to output that was cut at its cap.
func truncated(b []byte, cut bool) []byte {
	if !cut {
		return b
	}
	return append(b, fmt.Sprintf("\n[computemesh: output truncated at %d bytes]\n", len(b))...)
}

// runTask runs an awarded job on ex: it builds the executor's Task from the
// spec (fetching a wasm module by CID from the client unless cached),
// validates it, and runs it.
func (n *Node) runTask(ctx context.Context, ex executor.Executor, a *job.Award, client peer.ID, env map[string]string, inDir, outDir string, logs io.Writer) (executor.Result, error) {
	t := executor.Task{
		Args: a.Spec.Args, Env: env, Stdin: a.Spec.Stdin, Timeout: a.Spec.Timeout(),
		MemoryBytes: a.Spec.Resources.MemoryBytes, InputsDir: inDir, OutputsDir: outDir, Logs: logs,
		DiskBytes: uint64(content.OutputLimit(a.Spec.Resources.DiskBytes)), MaxFiles: content.MaxOutputFiles,
	}
	gpus := a.Spec.Resources.GPUs
	if n.record.Simulated {
		gpus = 0 // simulated GPUs: the job runs without a device
	}
	switch a.Spec.Executor {
	case job.ExecutorWASM:
		module, ok := n.modules.Get(a.Spec.Module)
		if !ok {
			var err error
			module, err = n.mesh.FetchBlob(ctx, client, a.Spec.Module, 0)
			if err != nil {
				return executor.Result{}, fmt.Errorf("fetching module: %w", err)
			}
			n.modules.Put(a.Spec.Module, module, false)
		}
		t.Name, t.Module, t.ModuleKey, t.Deterministic = a.Spec.Name, module, a.Spec.Module, a.Spec.Deterministic
	case job.ExecutorDocker:
		t.Image, t.CPUMillis, t.GPUs, t.Network = a.Spec.Image, a.Spec.Resources.CPUMillis, gpus, a.Spec.Network
		// The container runs as nobody: let it write the outputs directory.
		_ = os.Chmod(outDir, 0o777)
		_ = os.Chmod(inDir, 0o755)
	case job.ExecutorExec:
		// The command runs as this node's user (confined to these
		// directories): they need no other permissions.
		t.Command, t.CPUMillis, t.GPUs, t.Network = a.Spec.Command, a.Spec.Resources.CPUMillis, gpus, a.Spec.Network
	default:
		return executor.Result{}, fmt.Errorf("this provider does not run %s jobs", a.Spec.Executor)
	}
	if err := ex.Validate(ctx, t); err != nil {
		return executor.Result{}, err
	}
	return ex.Run(ctx, t)
}

// runTimes is a moving mean of recent run times: a queued bid's wait
// estimate.
type runTimes struct {
	mu  sync.Mutex
	avg time.Duration
}

func (r *runTimes) add(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.avg == 0 {
		r.avg = d
		return
	}
	r.avg += (d - r.avg) / 8
}

func (r *runTimes) mean() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.avg
}
