package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/client"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/node"
	"github.com/computemesh/computemesh/store"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func newSubmit() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "submit [SPEC.yaml] [--wasm MODULE] [-- ARGS...]",
		Short: "Dispatch one job to the mesh and wait for its result",
		Long: `Dispatch one job and wait for its result.

The job comes from a YAML spec file, or inline: meshnode submit --wasm hello.wasm -- a b
Flags override what the spec file says.

With --data-dir of a running node, the job goes through that node's API;
otherwise an ephemeral client node joins the mesh from --bootstrap, runs the
job and leaves.

Exit codes: 0 completed (job exit 0); 1 the job ran and failed (non-zero exit,
timeout, limit); 2 bad usage or spec, nothing sent; 3 not scheduled (no bids
matched by the deadline); 4 node, API or network error.`,
		RunE: runSubmit,
	}
	f := cmd.Flags()
	f.String("wasm", "", "WASM module to run (instead of, or overriding, the spec's module)")
	f.String("image", "", "container image to run with the docker executor (present on the provider; instead of a module)")
	f.Bool("net", false, "ask for network access (docker jobs; only providers whose owner allows it bid)")
	f.String("command", "", "absolute path of a program to run with the exec executor (one the provider's owner allows)")
	f.String("name", "", "argv[0] of the job (default: the module's file name)")
	f.String("policy", "", "how to choose among bids: cost (lowest price), latency (lowest RTT + queue wait + estimated run time), green (lowest estimated emissions: the job's energy at each bid's declared carbon intensity, then price) or balanced (see --weights); default cost")
	f.String("weights", "", "policy balanced: weights of price, latency, reputation and carbon, e.g. cost=0.6,latency=0.3,carbon=0.1 (default: price and latency equal)")
	f.StringArray("not-region", nil, "region glob the provider must not be in, e.g. 'us-*' (repeatable)")
	f.Bool("publish", false, "make the outputs public: the provider and this node announce them on the mesh's DHT and serve them to anyone ('meshnode get CID' from any node); not with --region or --not-region")
	f.String("auction", "", "auction rule: first-price (default: the winner is paid its bid) or second-price (the runner-up's price)")
	f.Float64("min-reputation", 0, "leave out providers whose reputation in this node's own history is below this (0 to 1; a newcomer starts at 0.5)")
	f.Int("replicas", 0, "run the job on this many distinct providers and keep the majority's output (a wasm job needs --deterministic)")
	f.Bool("deterministic", false, "run a wasm job with no clock, randomness or other source of difference, so that replicas' outputs compare (deterministic: true in a spec)")
	f.Int("count", 0, "run a job array of this many tasks (up to 10000) from one submission, each with COMPUTEMESH_TASK_INDEX (0 to count-1) and COMPUTEMESH_TASK_COUNT in its environment; providers bid for slices of it")
	f.Duration("expected", 0, "the job's expected run time on the reference machine (lets policy latency weigh providers' speed)")
	f.Duration("deadline", 0, "how long the job may wait for a provider: bids on which it would start later are rejected; with no bid it waits and auctions again until then (default: one auction)")
	f.Duration("max-wait", 0, "soft bound on the job's queue wait: bids that would wait longer rank after those within it, none is rejected (default: none; with --repeat and no --deadline 5s, 0 for none)")
	f.String("max-price", "", "the most the job may cost, in credits (e.g. 0.10)")
	f.String("max-carbon", "", "the most CO2e the job may emit by estimate (its energy at the bid's declared intensity), e.g. 2g or 500mg; bids over it, or declaring none, are rejected")
	f.String("not-before", "", "the earliest the job may start: an RFC 3339 time or a duration from now (e.g. 2h); with --deadline, a job that weighs carbon (--policy green, --max-carbon, a carbon weight) may wait for the greenest hour the providers' forecasts declare")
	f.String("region", "", "region glob the provider must be in, e.g. 'eu-*'")
	f.String("cpus", "", "cores to reserve (default 1)")
	f.String("memory", "", "memory limit, e.g. 64MiB (default 64MiB)")
	f.String("gpus", "", "GPUs the job needs (default 0)")
	f.String("gpu-model", "", "GPU model the job needs, e.g. h100 (a model key or glob)")
	f.String("min-vram", "", "VRAM each GPU must have, e.g. 40GiB")
	f.String("disk", "", "storage to reserve for the job's outputs, e.g. 1GiB (priced per GiB-hour; default: the provider's output limit, unpriced)")
	f.Duration("timeout", 0, "wall-clock limit of the job, e.g. 30s (default 30s)")
	f.Duration("bid-window", 0, "how long to wait for bids unless every candidate answers sooner (default 250ms)")
	f.StringArray("env", nil, "environment variable KEY=VALUE for the job (repeatable)")
	f.String("stdin", "", "file whose content is the job's stdin")
	f.Bool("json", false, "print one JSON object with the outcome instead of text")
	f.StringArray("secret", nil, "secret environment variable KEY=VALUE: sent to the winner alone, never gossiped or logged (repeatable)")
	f.StringArray("secret-env", nil, "secret environment variable KEY taken from this environment (repeatable)")
	f.StringArray("input", nil, "input NAME=PATH (a file or directory, added to the store), NAME=CID, or NAME=URL[#cid=CID] (fetched by the provider, whose owner must allow it; the bytes checked against CID when given), seen by the job under /inputs/NAME (repeatable)")
	f.StringP("output", "o", "", "directory to write the job's outputs (/outputs) into")
	f.String("data-dir", "", "data dir of a running node to submit through")
	f.Bool("detach", false, "through --data-dir: print the job's ID once it is submitted and return; the node goes on with it (meshnode logs -f, cancel, job describe)")
	f.BoolP("quiet", "q", false, "no progress lines on stderr (the outcome only)")
	f.Int("repeat", 1, "submit the job this many times, each copy its own job (through --data-dir); a summary with throughput and percentiles goes to stderr")
	f.Int("parallel", 8, "with --repeat: how many jobs are in flight at once")
	f.StringSlice("bootstrap", nil, "multiaddrs to join the mesh from with an ephemeral client node")
	f.String("network", "devnet", "network name (ephemeral client)")
	return cmd
}

// submitOutput is the --json form of an outcome.
type submitOutput struct {
	Job        string      `json:"job"`
	State      job.State   `json:"state"`
	Provider   string      `json:"provider"`
	Region     string      `json:"region,omitempty"`
	Price      float64     `json:"price"`
	Charge     float64     `json:"charge"`
	Bids       int         `json:"bids"`
	Declines   int         `json:"declines"`
	Candidates int         `json:"candidates"`
	Attempts   int         `json:"attempts"`
	Reason     string      `json:"reason,omitempty"`
	ExitCode   int         `json:"exit_code"`
	Stdout     string      `json:"stdout"`
	Stderr     string      `json:"stderr"`
	Error      string      `json:"error,omitempty"`
	Outputs    string      `json:"outputs,omitempty"`
	CPUSeconds float64     `json:"cpu_seconds,omitempty"`
	GPUSeconds float64     `json:"gpu_seconds,omitempty"`
	Timings    job.Timings `json:"timings_ms"`
}

func runSubmit(cmd *cobra.Command, args []string) error {
	if err := applyConfig(cmd); err != nil {
		return err
	}
	sub, modulePath, inputs, err := buildSubmission(cmd, args)
	if err != nil {
		return err
	}
	outDir, _ := cmd.Flags().GetString("output")
	if sub.Secrets, err = secretFlags(cmd); err != nil {
		return err
	}
	f := cmd.Flags()
	asJSON, _ := f.GetBool("json")
	dataDir, _ := f.GetString("data-dir")
	boot, _ := f.GetStringSlice("bootstrap")
	boot = splitList(boot)
	network, _ := f.GetString("network")
	if dataDir == "" && len(boot) == 0 {
		if _, err := os.Stat(filepath.Join(defaultDataDir(), api.AddrFile)); err == nil {
			dataDir = defaultDataDir()
		} else {
			return usageErr("no mesh to submit to: give --data-dir of a running node or --bootstrap addresses")
		}
	}
	repeat, parallel, err := repeatFlags(f, dataDir)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	errOut := cmd.ErrOrStderr()
	var progress func(job.Event)
	if quiet, _ := f.GetBool("quiet"); !asJSON && !quiet {
		progress = progressPrinter(errOut)
	}
	detach, _ := f.GetBool("detach")
	if detach && (dataDir == "" || repeat > 1) {
		return usageErr("--detach: give --data-dir of a running node, which goes on with the job (and no --repeat)")
	}
	var out *job.Outcome
	if dataDir != "" {
		c, s, req, err := prepareNodeSubmit(ctx, dataDir, sub, modulePath, inputs)
		if err != nil {
			return err
		}
		if repeat > 1 {
			req.MaxWaitMS = batchMaxWait(f, sub).Milliseconds()
			return repeated(ctx, cmd.OutOrStdout(), errOut, c, s, req, repeat, parallel, outDir, asJSON)
		}
		if detach {
			req.Detach = true
			return submitDetached(ctx, cmd.OutOrStdout(), errOut, c, req, asJSON)
		}
		var seen jobOf
		if out, err = submitThroughNode(ctx, c, s, req, outDir, seen.watch(progress)); err != nil {
			if ctx.Err() != nil { // Ctrl-C: the node goes on with the job
				return interrupted(errOut, seen.id)
			}
			return err
		}
	} else {
		if modulePath != "" {
			if sub.Module, err = moduleBytes(modulePath, sub.Spec.Module); err != nil {
				return err
			}
		}
		out, err = submitEphemeral(ctx, boot, network, sub, inputs, outDir, progress)
		if err != nil {
			return err
		}
	}
	return report(cmd.OutOrStdout(), errOut, out, asJSON)
}

// batchMaxWait is the soft wait bound of a batch's jobs (--repeat): the
// one asked for (--max-wait, 0 for none, or the spec file's max_wait);
// else, without a deadline, client.DefaultBatchMaxWait, so that a batch
// takes the cheapest bids that start within it rather than queuing on
// the cheapest provider; with a deadline, none (the deadline bounds the
// wait).
func batchMaxWait(f *pflag.FlagSet, sub node.Submission) time.Duration {
	if sub.MaxWait > 0 || f.Changed("max-wait") || !sub.Deadline.IsZero() {
		return sub.MaxWait
	}
	return client.DefaultBatchMaxWait
}

// repeatFlags reads and checks --repeat and --parallel.
func repeatFlags(f *pflag.FlagSet, dataDir string) (repeat, parallel int, err error) {
	repeat, _ = f.GetInt("repeat")
	parallel, _ = f.GetInt("parallel")
	switch {
	case repeat < 1 || repeat > 1_000_000:
		return 0, 0, usageErr("--repeat: want 1 to 1000000 jobs, got %d", repeat)
	case parallel < 1 || parallel > 1024:
		return 0, 0, usageErr("--parallel: want 1 to 1024 jobs in flight, got %d", parallel)
	case repeat > 1 && f.Changed("count"):
		return 0, 0, usageErr("--repeat and --count: a job array (--count) is one submission of many tasks; give one of them")
	case repeat > 1 && dataDir == "":
		return 0, 0, usageErr("--repeat: give --data-dir of a running node (an ephemeral client would join the mesh for every copy)")
	}
	return repeat, parallel, nil
}

// prepareNodeSubmit dials the running node of dataDir, adds the inputs and
// the module at modulePath (if any, and not held yet) to its store and
// returns the API request for the submission, which names the module
// without carrying it.
func prepareNodeSubmit(ctx context.Context, dataDir string, sub node.Submission, modulePath string, inputs []string) (*api.Client, *store.Store, api.SubmitRequest, error) {
	c, err := api.Dial(dataDir)
	if err != nil {
		return nil, nil, api.SubmitRequest{}, netErr(err)
	}
	s, err := openDataStore(dataDir)
	if err != nil {
		return nil, nil, api.SubmitRequest{}, err
	}
	if err := resolveInputs(ctx, s, &sub, inputs); err != nil {
		return nil, nil, api.SubmitRequest{}, err
	}
	if modulePath != "" {
		if err := storeModule(s, modulePath, sub.Spec.Module); err != nil {
			return nil, nil, api.SubmitRequest{}, err
		}
	}
	req := api.SubmitRequest{Spec: *sub.Spec, Module: sub.Module, BidWindowMS: sub.BidWindow.Milliseconds(), Secrets: sub.Secrets,
		MaxWaitMS: sub.MaxWait.Milliseconds()}
	if !sub.Deadline.IsZero() {
		req.DeadlineMS = sub.Deadline.UnixMilli()
	}
	if !sub.NotBefore.IsZero() {
		req.NotBeforeMS = sub.NotBefore.UnixMilli()
	}
	return c, s, req, nil
}

// submitThroughNode submits one job through a running node's API and
// writes its outputs.
func submitThroughNode(ctx context.Context, c *api.Client, s *store.Store, req api.SubmitRequest, outDir string, progress func(job.Event)) (*job.Outcome, error) {
	out, err := c.Submit(ctx, req, progress)
	if msg, ok := api.BadRequest(err); ok {
		return nil, usageErr("%s", msg)
	}
	if err != nil {
		return nil, netErr(err)
	}
	if err := writeOutputs(ctx, s, out, outDir); err != nil {
		return nil, err
	}
	return out, nil
}

// submitEphemeral joins the mesh with a short-lived client node on loopback,
// submits the job and leaves.
func submitEphemeral(ctx context.Context, boot []string, network string, sub node.Submission, inputs []string, outDir string, progress func(job.Event)) (*job.Outcome, error) {
	records, err := newEphemeralRecords()
	if err != nil {
		return nil, err
	}
	n, err := startEphemeral(ctx, boot, network, filepath.Join(records, client.JobsDir))
	if err != nil {
		return nil, err
	}
	defer n.Close()
	if err := resolveInputs(ctx, n.Store(), &sub, inputs); err != nil {
		return nil, err
	}
	if err := joinMesh(ctx, n, boot); err != nil {
		return nil, err
	}
	out, err := n.Submit(ctx, sub, progress)
	if errors.Is(err, node.ErrBadSubmission) {
		return nil, usageErr("%v", err)
	}
	if err != nil {
		return nil, netErr(err)
	}
	return out, writeOutputs(ctx, n.Store(), out, outDir)
}

// secretFlags collects --secret KEY=VALUE and --secret-env KEY.
func secretFlags(cmd *cobra.Command) (map[string]string, error) {
	f := cmd.Flags()
	kvs, _ := f.GetStringArray("secret")
	names, _ := f.GetStringArray("secret-env")
	if len(kvs) == 0 && len(names) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usageErr("--secret: want KEY=VALUE")
		}
		out[k] = v
	}
	for _, k := range names {
		v, ok := os.LookupEnv(k)
		if !ok {
			return nil, usageErr("--secret-env %s: not set in this environment", k)
		}
		out[k] = v
	}
	if err := job.ValidateSecrets(out); err != nil {
		return nil, usageErr("%v", err)
	}
	return out, nil
}

// resolveInputs adds the inputs (NAME=PATH or NAME=CID) to s and to the
// submission's spec, validating it again.
func resolveInputs(ctx context.Context, s *store.Store, sub *node.Submission, inputs []string) error {
	if len(inputs) == 0 {
		return nil
	}
	var fallback *store.Store
	if def := filepath.Join(defaultDataDir(), "blobs"); def != s.Dir() {
		if _, err := os.Stat(def); err == nil {
			fallback, _ = store.Open(def)
		}
	}
	ins, err := parseInputs(ctx, s, fallback, inputs)
	if err != nil {
		return err
	}
	sub.Spec.Inputs = ins
	if err := sub.Spec.Validate(); err != nil {
		return usageErr("%v", err)
	}
	return nil
}

// writeOutputs exports a completed job's outputs to dir, when asked.
func writeOutputs(ctx context.Context, s *store.Store, out *job.Outcome, dir string) error {
	if dir != "" && len(out.Tasks) > 0 {
		return writeTaskOutputs(ctx, s, out, dir)
	}
	if dir == "" || out.Outputs == "" {
		return nil
	}
	c, err := job.ParseCID(out.Outputs)
	if err != nil {
		return netErr(err)
	}
	_, _, err = exportCID(ctx, s, c, dir)
	return err
}
