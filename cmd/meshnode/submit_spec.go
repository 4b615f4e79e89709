package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/computemesh/computemesh/executor"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/mesh"
	"github.com/computemesh/computemesh/node"
	"github.com/computemesh/computemesh/store"
	"github.com/ipfs/go-cid"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// buildSubmission reads the spec file (if any), applies the flags, checks
// the module, and returns a validated submission, the path of its WASM
// module ("" for other executors: the submission names the module, whose
// bytes are read only where they must travel) and the inputs still to
// resolve (NAME=PATH|CID). Every error is a usage error: nothing has been
// sent.
func buildSubmission(cmd *cobra.Command, args []string) (sub node.Submission, modulePath string, inputs []string, err error) {
	sub, modulePath, err = buildSpec(cmd, args, &inputs)
	return sub, modulePath, inputs, err
}

func buildSpec(cmd *cobra.Command, args []string, inputs *[]string) (node.Submission, string, error) {
	f := cmd.Flags()
	specArgs, jobArgs, err := splitSpecArgs(cmd, args)
	if err != nil {
		return node.Submission{}, "", err
	}
	file, dir, err := readSpecFile(specArgs)
	if err != nil {
		return node.Submission{}, "", err
	}
	if jobArgs != nil {
		file.Args = jobArgs
	}
	modulePath, err := applyExecutorFlags(f, file, dir)
	if err != nil {
		return node.Submission{}, "", err
	}
	if err := applySpecStringFlags(f, file); err != nil {
		return node.Submission{}, "", err
	}
	if err := applyScheduleFlags(f, file); err != nil {
		return node.Submission{}, "", err
	}
	*inputs = append(*inputs, specInputs(file, dir)...)
	flagInputs, _ := f.GetStringArray("input")
	*inputs = append(*inputs, flagInputs...)
	if err := applyEnvFlags(f, file); err != nil {
		return node.Submission{}, "", err
	}
	if file.Image != "" || file.Command != "" {
		sub, err := programSubmission(file)
		return sub, "", err
	}
	sub, err := moduleSubmission(file, modulePath, specArgs)
	return sub, modulePath, err
}

// splitSpecArgs separates the spec file (at most one) from the job's
// arguments after --; jobArgs is nil when there is no --.
func splitSpecArgs(cmd *cobra.Command, args []string) (specArgs, jobArgs []string, err error) {
	dash := cmd.ArgsLenAtDash()
	if dash < 0 {
		if len(args) > 1 {
			return nil, nil, usageErr("at most one spec file; put the job's arguments after --")
		}
		return args, nil, nil
	}
	if dash > 1 {
		return nil, nil, usageErr("at most one spec file before --, got %d", dash)
	}
	return args[:dash], args[dash:], nil
}

// readSpecFile parses the spec file, if one is given, and returns it with
// the directory its relative paths are resolved against.
func readSpecFile(specArgs []string) (*job.File, string, error) {
	if len(specArgs) != 1 {
		return &job.File{Set: map[string]bool{}}, ".", nil
	}
	b, err := os.ReadFile(specArgs[0])
	if err != nil {
		return nil, "", usageErr("spec: %v", err)
	}
	file, err := job.ParseFile(specArgs[0], b)
	if err != nil {
		return nil, "", usageErr("%v", err)
	}
	return file, filepath.Dir(specArgs[0]), nil
}

// applyExecutorFlags applies --wasm, --image, --net and --command and
// returns the path of the module to read ("" for an image or a command).
func applyExecutorFlags(f *pflag.FlagSet, file *job.File, dir string) (string, error) {
	modulePath := ""
	if file.Module != "" {
		modulePath = file.Module
		if !filepath.IsAbs(modulePath) {
			modulePath = filepath.Join(dir, modulePath)
		}
	}
	if w, _ := f.GetString("wasm"); w != "" {
		modulePath = w
		file.Executor, file.Image = job.ExecutorWASM, ""
	}
	if img, _ := f.GetString("image"); img != "" {
		file.Image, file.Executor, modulePath = img, job.ExecutorDocker, ""
	}
	if f.Changed("net") {
		file.Network, _ = f.GetBool("net")
	}
	if c, _ := f.GetString("command"); c != "" {
		file.Command, file.Executor, modulePath = c, job.ExecutorExec, ""
	}
	if modulePath == "" && file.Image == "" && file.Command == "" {
		return "", usageErr("no module, image or command: give a spec file with module:, image: or command:, or --wasm FILE, --image REF or --command PATH")
	}
	return modulePath, nil
}

// specStringFlag is a string flag that overrides a field of the spec file.
type specStringFlag struct {
	name string
	set  func(file *job.File, v string) error
}

// specStringFlags are applied in this order; the first bad one is reported.
var specStringFlags = []specStringFlag{
	// Naming and the choice among bids.
	{"name", func(file *job.File, v string) error { file.Name = v; return nil }},
	{"policy", func(file *job.File, v string) error { file.Policy = v; return nil }},
	{"region", func(file *job.File, v string) error { file.Region = v; return nil }},
	{"auction", func(file *job.File, v string) error { file.Auction = v; return nil }},
	{"weights", func(file *job.File, v string) (e error) { file.Weights, e = parseWeights(v); return }},
	{"max-price", func(file *job.File, v string) (e error) { file.MaxPrice, e = job.ParseCredits(v); return }},
	{"max-carbon", func(file *job.File, v string) (e error) { file.MaxCarbon, e = job.ParseCarbon(v); return }},
	{"not-before", func(file *job.File, v string) (e error) { file.NotBefore, e = v, checkWhen(v); return }},
	// Resources.
	{"cpus", func(file *job.File, v string) (e error) { file.Resources.CPUMillis, e = job.ParseCPUs(v); return }},
	{"memory", func(file *job.File, v string) (e error) {
		file.Resources.MemoryBytes, e = job.ParseResourceSize(v)
		return
	}},
	{"gpus", func(file *job.File, v string) (e error) { file.Resources.GPUs, e = parseGPUs(v); return }},
	{"gpu-model", func(file *job.File, v string) error { file.Resources.GPUModel = v; return nil }},
	{"min-vram", func(file *job.File, v string) (e error) {
		file.Resources.GPUVRAMBytes, e = job.ParseResourceSize(v)
		return
	}},
	{"disk", func(file *job.File, v string) (e error) {
		file.Resources.DiskBytes, e = job.ParseResourceSize(v)
		return
	}},
	// Data.
	{"stdin", func(file *job.File, v string) error {
		b, e := os.ReadFile(v)
		file.Stdin = string(b)
		return e
	}},
}

// applySpecStringFlags applies the string flags that were given.
func applySpecStringFlags(f *pflag.FlagSet, file *job.File) error {
	for _, sf := range specStringFlags {
		if !f.Changed(sf.name) {
			continue
		}
		v, _ := f.GetString(sf.name)
		if err := sf.set(file, v); err != nil {
			return usageErr("--%s: %v", sf.name, err)
		}
	}
	return nil
}

// parseWeights parses --weights cost=W,latency=W,reputation=W.
func parseWeights(v string) (job.Weights, error) {
	var w job.Weights
	for _, kv := range strings.Split(v, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(kv), "=")
		x, err := strconv.ParseFloat(val, 64)
		if !ok || err != nil {
			return w, fmt.Errorf("%q: want cost=W,latency=W", kv)
		}
		switch k {
		case "cost":
			w.Cost = x
		case "latency":
			w.Latency = x
		case "reputation":
			w.Reputation = x
		case "carbon":
			w.Carbon = x
		default:
			return w, fmt.Errorf("%q: unknown weight (known: cost, latency, reputation, carbon)", k)
		}
	}
	return w, nil
}

// parseGPUs parses --gpus.
func parseGPUs(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err == nil && (n < 0 || n > job.MaxGPUs) {
		err = fmt.Errorf("want 0 to %d", job.MaxGPUs)
	}
	return n, err
}

// applyScheduleFlags applies the flags on time limits, placement and
// replication.
func applyScheduleFlags(f *pflag.FlagSet, file *job.File) error {
	if err := positiveDuration(f, "timeout", &file.Timeout); err != nil {
		return err
	}
	if f.Changed("not-region") {
		file.NotRegions, _ = f.GetStringArray("not-region")
	}
	if f.Changed("publish") {
		file.Publish, _ = f.GetBool("publish")
	}
	if f.Changed("min-reputation") {
		file.MinReputation, _ = f.GetFloat64("min-reputation")
	}
	if f.Changed("replicas") {
		file.Replicas, _ = f.GetInt("replicas")
	}
	if f.Changed("deterministic") {
		file.Deterministic, _ = f.GetBool("deterministic")
	}
	if f.Changed("count") {
		file.Count, _ = f.GetInt("count")
	}
	if f.Changed("expected") {
		file.Expected, _ = f.GetDuration("expected")
	}
	if err := positiveDuration(f, "deadline", &file.Deadline); err != nil {
		return err
	}
	if f.Changed("max-wait") {
		// 0 is allowed: none, also for a batch (pure ranking by policy).
		if file.MaxWait, _ = f.GetDuration("max-wait"); file.MaxWait < 0 {
			return usageErr("--max-wait: %v is negative", file.MaxWait)
		}
	}
	return positiveDuration(f, "bid-window", &file.BidWindow)
}

// checkWhen checks a point in time as --not-before takes it.
func checkWhen(v string) error {
	_, err := job.ParseWhen(v, time.Now())
	return err
}

// notBefore is the time a job's not-before (checked: checkWhen) names, from
// now; zero for none.
func notBefore(v string) time.Time {
	if v == "" {
		return time.Time{}
	}
	t, _ := job.ParseWhen(v, time.Now())
	return t
}

// positiveDuration sets *dst from the duration flag name, when given, which
// must be positive.
func positiveDuration(f *pflag.FlagSet, name string, dst *time.Duration) error {
	if !f.Changed(name) {
		return nil
	}
	*dst, _ = f.GetDuration(name)
	if *dst <= 0 {
		return usageErr("--%s: must be positive", name)
	}
	return nil
}

// specInputs returns the spec file's inputs, NAME=PATH|CID, with paths
// relative to the spec file's directory.
func specInputs(file *job.File, dir string) []string {
	var inputs []string
	for _, in := range file.Inputs {
		name, src, _ := strings.Cut(in, "=")
		if _, err := cid.Decode(src); err != nil && !filepath.IsAbs(src) {
			src = filepath.Join(dir, src) // a path relative to the spec file
		}
		inputs = append(inputs, name+"="+src)
	}
	return inputs
}

// applyEnvFlags adds --env KEY=VALUE to the spec's environment.
func applyEnvFlags(f *pflag.FlagSet, file *job.File) error {
	envs, _ := f.GetStringArray("env")
	for _, kv := range envs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return usageErr("--env %q: want KEY=VALUE", kv)
		}
		if file.Env == nil {
			file.Env = map[string]string{}
		}
		file.Env[k] = v
	}
	return nil
}

// programSubmission is the submission of a container image or a command.
func programSubmission(file *job.File) (node.Submission, error) {
	if file.Name == "" {
		file.Name = file.Image + file.Command
	}
	spec, err := file.Spec("")
	if err != nil {
		return node.Submission{}, usageErr("%v", err)
	}
	return node.Submission{Spec: spec, BidWindow: file.BidWindow, Deadline: deadline(file.Deadline), MaxWait: file.MaxWait,
		NotBefore: notBefore(file.NotBefore)}, nil
}

// moduleSubmission checks the WASM module and returns the submission that
// names it. Its bytes are not read into memory: the module is hashed as it
// is read, and sent by reference where the node can take it from its store
// (moduleBytes, storeModule).
func moduleSubmission(file *job.File, modulePath string, specArgs []string) (node.Submission, error) {
	mc, err := moduleCID(modulePath)
	if err != nil {
		return node.Submission{}, err
	}
	if file.Name == "" {
		file.Name = filepath.Base(modulePath)
	}
	spec, err := file.Spec(mc.String())
	if err != nil {
		if len(specArgs) == 1 {
			return node.Submission{}, usageErr("%s: %v", specArgs[0], err)
		}
		return node.Submission{}, usageErr("%v", err)
	}
	return node.Submission{Spec: spec, BidWindow: file.BidWindow, Deadline: deadline(file.Deadline), MaxWait: file.MaxWait,
		NotBefore: notBefore(file.NotBefore)}, nil
}

// moduleCID checks the module at path (a regular file of at most
// mesh.MaxBlob bytes that starts as a WASM core module) and returns its CID,
// hashing it as it reads.
func moduleCID(path string) (cid.Cid, error) {
	f, err := os.Open(path)
	if err != nil {
		return cid.Undef, usageErr("module: %v", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return cid.Undef, usageErr("module: %v", err)
	}
	if st.Size() > mesh.MaxBlob {
		return cid.Undef, usageErr("module %s: %d bytes, limit %d", path, st.Size(), mesh.MaxBlob)
	}
	head := make([]byte, 8)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return cid.Undef, usageErr("module: %v", err)
	}
	if err := executor.ValidateWASM(head[:n]); err != nil {
		return cid.Undef, usageErr("module %s: %v", path, err)
	}
	mc, _, err := job.ModuleCIDOf(io.MultiReader(bytes.NewReader(head[:n]), f))
	if err != nil {
		return cid.Undef, usageErr("module: %v", err)
	}
	return mc, nil
}

// moduleBytes reads the module at path, which must still hash to the CID
// the spec names (it was hashed when the submission was built).
func moduleBytes(path, want string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, usageErr("module: %v", err)
	}
	if len(b) > mesh.MaxBlob {
		return nil, usageErr("module %s: %d bytes, limit %d", path, len(b), mesh.MaxBlob)
	}
	if got := job.ModuleCID(b).String(); got != want {
		return nil, usageErr("module %s: changed while it was being submitted (now %s, the spec names %s)", path, got, want)
	}
	return b, nil
}

// storeModule makes sure the node's store (s, of its data dir) holds the
// module at path, whose CID the spec names, so that the submission can
// name it without carrying it: a module submitted before costs a look-up,
// not a read, an upload and a hash of its bytes per job.
func storeModule(s *store.Store, path, want string) error {
	mc, err := cid.Decode(want)
	if err != nil {
		return usageErr("module: %v", err)
	}
	if s.Has(mc) {
		return nil
	}
	got, _, err := s.AddFile(path)
	if err != nil {
		return usageErr("module: keeping it in the node's store: %v", err)
	}
	if got != mc {
		return usageErr("module %s: changed while it was being submitted (now %s, the spec names %s)", path, got, want)
	}
	return nil
}
