package job

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// MaxSpecFile bounds the size of a YAML job spec file.
const MaxSpecFile = 1 << 20

// File is a job spec as a person writes it in YAML. Module is a path
// (relative to the spec file) or empty when the module is given otherwise;
// sizes, durations and prices are already parsed.
type File struct {
	Executor      string
	Module        string // path of the module file, as written
	ModuleCID     string // optional: the module's expected CID
	Image         string // docker: the container image
	Command       string // exec: absolute path of a program the provider allows
	Network       bool   // docker, exec: ask for network access
	Name          string
	Args          []string
	Env           map[string]string
	Stdin         string
	Resources     Resources
	Timeout       time.Duration
	Policy        string
	MaxPrice      Credits
	Region        string
	BidWindow     time.Duration
	Deterministic bool
	NotRegions    []string
	Publish       bool // the outputs are public (Spec.Publish)
	Weights       Weights
	Auction       string
	Replicas      int
	Count         int // tasks of a job array (0 or 1: one job)
	Expected      time.Duration
	MinReputation float64
	// Deadline is how long the job may wait for a provider (client-side,
	// not part of the spec).
	Deadline time.Duration
	// MaxWait is a soft bound on the job's queue wait at a provider
	// (client-side): bids that would wait longer rank after those within it.
	MaxWait time.Duration
	// MaxCarbon filters out bids on which the job's estimated emissions
	// pass it (Spec.MaxCarbon). NotBefore (client-side) is the earliest
	// the job may start, as written: an RFC 3339 time or a duration after
	// the submission (ParseWhen).
	MaxCarbon Carbon
	NotBefore string
	// Inputs are as written: NAME=PATH (relative to the spec file) or
	// NAME=CID; the command that submits resolves them.
	Inputs []string

	// Set records which fields the file set, so that command-line flags can
	// override only what they are given.
	Set map[string]bool
}

// ParseFile parses a YAML job spec. name is the file's name, used in errors,
// which have the form "NAME:LINE: field: problem". Unknown fields are errors.
func ParseFile(name string, data []byte) (*File, error) {
	root, err := parseFileRoot(name, data)
	if err != nil {
		return nil, err
	}
	f := &File{Set: map[string]bool{}}
	errf := func(n *yaml.Node, field, format string, a ...any) error {
		return fmt.Errorf("%s:%d: %s: %s", name, n.Line, field, fmt.Sprintf(format, a...))
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		field := k.Value
		if f.Set[field] {
			return nil, errf(k, field, "set twice")
		}
		f.Set[field] = true
		if field == "resources" {
			if err := parseResources(v, f, errf); err != nil {
				return nil, err
			}
			continue
		}
		parse, ok := fileFields[field]
		if !ok {
			return nil, errf(k, field, "unknown field (known: executor, module, module_cid, image, command, network, name, args, env, stdin, resources, timeout, policy, max_price, region, not_regions, weights, auction, replicas, count, expected, deadline, not_before, max_wait, min_reputation, max_carbon, bid_window, deterministic, inputs)")
		}
		if err := parse(f, v); err != nil {
			return nil, errf(v, field, "%s", cleanYAMLError(err))
		}
	}
	return f, nil
}

// parseFileRoot decodes a spec file and returns its top-level mapping.
func parseFileRoot(name string, data []byte) (*yaml.Node, error) {
	if len(data) > MaxSpecFile {
		return nil, fmt.Errorf("%s: %d bytes, limit %d", name, len(data), MaxSpecFile)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %s", name, yamlSyntaxError(err))
	}
	if doc.Kind == 0 {
		return nil, fmt.Errorf("%s: empty job spec", name)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: a job spec is a mapping of fields (executor, module, args, ...)", name, root.Line)
	}
	return root, nil
}

// fileFields parses each top-level field of a spec file but resources
// into the File.
var fileFields = map[string]func(f *File, v *yaml.Node) error{
	"executor":       func(f *File, v *yaml.Node) error { return scalar(v, &f.Executor) },
	"module":         func(f *File, v *yaml.Node) error { return scalar(v, &f.Module) },
	"module_cid":     func(f *File, v *yaml.Node) error { return scalar(v, &f.ModuleCID) },
	"image":          func(f *File, v *yaml.Node) error { return scalar(v, &f.Image) },
	"command":        func(f *File, v *yaml.Node) error { return scalar(v, &f.Command) },
	"network":        func(f *File, v *yaml.Node) error { return v.Decode(&f.Network) },
	"name":           func(f *File, v *yaml.Node) error { return scalar(v, &f.Name) },
	"args":           func(f *File, v *yaml.Node) error { return v.Decode(&f.Args) },
	"env":            func(f *File, v *yaml.Node) error { return v.Decode(&f.Env) },
	"stdin":          func(f *File, v *yaml.Node) error { return scalar(v, &f.Stdin) },
	"policy":         func(f *File, v *yaml.Node) error { return scalar(v, &f.Policy) },
	"region":         func(f *File, v *yaml.Node) error { return scalar(v, &f.Region) },
	"deterministic":  func(f *File, v *yaml.Node) error { return v.Decode(&f.Deterministic) },
	"not_regions":    func(f *File, v *yaml.Node) error { return v.Decode(&f.NotRegions) },
	"publish":        func(f *File, v *yaml.Node) error { return v.Decode(&f.Publish) },
	"weights":        func(f *File, v *yaml.Node) error { return parseWeightsNode(v, &f.Weights) },
	"auction":        func(f *File, v *yaml.Node) error { return scalar(v, &f.Auction) },
	"replicas":       func(f *File, v *yaml.Node) error { return v.Decode(&f.Replicas) },
	"count":          func(f *File, v *yaml.Node) error { return v.Decode(&f.Count) },
	"min_reputation": func(f *File, v *yaml.Node) error { return v.Decode(&f.MinReputation) },
	"inputs":         func(f *File, v *yaml.Node) error { return parseInputsNode(v, f) },
	"timeout":        func(f *File, v *yaml.Node) error { return parseDurationNode(v, &f.Timeout) },
	"bid_window":     func(f *File, v *yaml.Node) error { return parseDurationNode(v, &f.BidWindow) },
	"expected":       func(f *File, v *yaml.Node) error { return parseDurationNode(v, &f.Expected) },
	"deadline":       func(f *File, v *yaml.Node) error { return parseDurationNode(v, &f.Deadline) },
	"max_wait":       func(f *File, v *yaml.Node) error { return parseDurationNode(v, &f.MaxWait) },
	"not_before": func(f *File, v *yaml.Node) error {
		err := scalar(v, &f.NotBefore)
		if err == nil {
			_, err = ParseWhen(f.NotBefore, time.Unix(0, 0))
		}
		return err
	},
	"max_carbon": func(f *File, v *yaml.Node) error {
		var s string
		err := scalar(v, &s)
		if err == nil {
			f.MaxCarbon, err = ParseCarbon(s)
		}
		return err
	},
	"max_price": func(f *File, v *yaml.Node) error {
		var s string
		err := scalar(v, &s)
		if err == nil {
			f.MaxPrice, err = ParseCredits(s)
		}
		return err
	},
}

// parseWeightsNode parses weights: a mapping of cost, latency and
// reputation.
func parseWeightsNode(v *yaml.Node, out *Weights) error {
	var w struct {
		Cost       *float64 `yaml:"cost"`
		Latency    *float64 `yaml:"latency"`
		Reputation *float64 `yaml:"reputation"`
		Carbon     *float64 `yaml:"carbon"`
	}
	if v.Kind != yaml.MappingNode {
		return fmt.Errorf("want a mapping of cost, latency, reputation and carbon")
	}
	if err := v.Decode(&w); err != nil {
		return err
	}
	var err error
	for i := 0; i+1 < len(v.Content); i += 2 {
		if kk := v.Content[i].Value; kk != "cost" && kk != "latency" && kk != "reputation" && kk != "carbon" {
			err = fmt.Errorf("unknown weight %q (known: cost, latency, reputation, carbon)", kk)
		}
	}
	if w.Cost != nil {
		out.Cost = *w.Cost
	}
	if w.Latency != nil {
		out.Latency = *w.Latency
	}
	if w.Reputation != nil {
		out.Reputation = *w.Reputation
	}
	if w.Carbon != nil {
		out.Carbon = *w.Carbon
	}
	return err
}

// parseInputsNode parses inputs: a list of a name and either a path, a
// cid, or a url (with an optional cid) each, kept as NAME=PATH, NAME=CID
// or NAME=URL#cid=CID.
func parseInputsNode(v *yaml.Node, f *File) error {
	var ins []struct {
		Name string `yaml:"name"`
		Path string `yaml:"path"`
		CID  string `yaml:"cid"`
		URL  string `yaml:"url"`
	}
	err := v.Decode(&ins)
	if err != nil {
		return err
	}
	for i, in := range ins {
		switch {
		case in.URL != "" && in.Name != "" && in.Path == "":
			u := in.URL
			if in.CID != "" {
				u += "#cid=" + in.CID
			}
			f.Inputs = append(f.Inputs, in.Name+"="+u)
		case in.Name == "" || (in.Path == "") == (in.CID == ""):
			err = fmt.Errorf("inputs[%d]: want a name and either a path, a cid, or a url (and optionally the cid it must match)", i)
		case in.Path != "":
			f.Inputs = append(f.Inputs, in.Name+"="+in.Path)
		default:
			f.Inputs = append(f.Inputs, in.Name+"="+in.CID)
		}
	}
	return err
}

// ParseWhen parses a point in time as an RFC 3339 time (e.g.
// 2026-03-01T14:00:00Z) or a duration from now (e.g. 2h, not negative).
func ParseWhen(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("%q: want an RFC 3339 time (2026-03-01T14:00:00Z) or a duration from now (2h)", s)
	}
	return now.Add(d), nil
}

// parseDurationNode parses a duration of at least 1ms.
func parseDurationNode(v *yaml.Node, out *time.Duration) error {
	var s string
	if err := scalar(v, &s); err != nil {
		return err
	}
	d, err := time.ParseDuration(s)
	if err == nil && d < time.Millisecond {
		err = fmt.Errorf("%v is less than the smallest duration, 1ms", d)
	}
	*out = d
	return err
}

func parseResources(n *yaml.Node, f *File, errf func(*yaml.Node, string, string, ...any) error) error {
	if n.Kind != yaml.MappingNode {
		return errf(n, "resources", "want a mapping of cpus, memory, gpus, gpu_model, min_vram, disk")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		field := "resources." + k.Value
		if f.Set[field] {
			return errf(k, field, "set twice")
		}
		var s string
		if err := scalar(v, &s); err != nil {
			return errf(v, field, "%s", cleanYAMLError(err))
		}
		switch k.Value {
		case "cpus":
			c, err := ParseCPUs(s)
			if err != nil {
				return errf(v, field, "%v", err)
			}
			f.Resources.CPUMillis = c
		case "memory":
			m, err := ParseResourceSize(s)
			if err != nil {
				return errf(v, field, "%v", err)
			}
			f.Resources.MemoryBytes = m
		case "gpus":
			g, err := strconv.Atoi(s)
			if err != nil || g < 0 || g > MaxGPUs {
				return errf(v, field, "want a whole number from 0 to %d", MaxGPUs)
			}
			f.Resources.GPUs = g
		case "gpu_model":
			f.Resources.GPUModel = s
		case "min_vram":
			m, err := ParseResourceSize(s)
			if err != nil {
				return errf(v, field, "%v", err)
			}
			f.Resources.GPUVRAMBytes = m
		case "disk":
			m, err := ParseResourceSize(s)
			if err != nil {
				return errf(v, field, "%v", err)
			}
			f.Resources.DiskBytes = m
		default:
			return errf(k, field, "unknown field (known: cpus, memory, gpus, gpu_model, min_vram, disk)")
		}
		f.Set[field] = true
	}
	return nil
}

// ParseCPUs parses a number of cores such as "1", "0.5" or "2.25" into
// thousandths of a core.
func ParseCPUs(s string) (int64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || !(v > 0 && v <= MaxCPUMillis/1000) || int64(v*1000+0.5) < 1 {
		return 0, fmt.Errorf("invalid number of cpus %q: want a number from 0.001 to %d", s, MaxCPUMillis/1000)
	}
	return int64(v*1000 + 0.5), nil
}

func scalar(n *yaml.Node, out *string) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("want a single value, not a list or mapping")
	}
	*out = n.Value
	return nil
}

// yamlParserProblems are the syntax errors that the YAML library's parser
// (not its scanner) reports: for these it counts lines from 0 in its
// message, one line too early.
var yamlParserProblems = []string{"did not find expected ',' or ']'", "did not find expected ',' or '}'",
	"did not find expected '-' indicator", "did not find expected <document start>", "did not find expected <stream-start>",
	"did not find expected key", "did not find expected node content", "found duplicate %TAG directive",
	"found duplicate %YAML directive", "found incompatible YAML document"}

// yamlSyntaxError is a YAML syntax error as "line N: problem", with the line
// the problem is on.
func yamlSyntaxError(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	rest, ok := strings.CutPrefix(msg, "line ")
	if !ok {
		return msg
	}
	num, problem, ok := strings.Cut(rest, ": ")
	n, perr := strconv.Atoi(num)
	if !ok || perr != nil {
		return msg
	}
	for _, p := range yamlParserProblems {
		if strings.HasPrefix(problem, p) {
			return fmt.Sprintf("line %d: %s", n+1, problem)
		}
	}
	return msg
}

func cleanYAMLError(err error) string {
	s := strings.TrimPrefix(err.Error(), "yaml: unmarshal errors:\n")
	return strings.TrimSpace(s)
}

// Spec turns the file into a canonical Spec for a module whose CID is
// moduleCID, filling defaults (executor wasm, 1 cpu, 64MiB, 30s, policy cost)
// and validating the result.
func (f *File) Spec(moduleCID string) (*Spec, error) {
	s := &Spec{
		Executor: f.Executor, Module: moduleCID, Image: f.Image, Command: f.Command, Network: f.Network, Name: f.Name, Args: f.Args, Env: f.Env,
		Stdin: []byte(f.Stdin), Resources: f.Resources, TimeoutMS: f.Timeout.Milliseconds(),
		MaxPrice: f.MaxPrice, Region: f.Region, Policy: f.Policy, Deterministic: f.Deterministic,
		NotRegions: f.NotRegions, Weights: f.Weights, Auction: f.Auction, Replicas: f.Replicas, Count: f.Count,
		ExpectedMS: f.Expected.Milliseconds(), MinReputation: f.MinReputation, Publish: f.Publish, MaxCarbon: f.MaxCarbon,
	}
	if s.Executor == "" {
		s.Executor = ExecutorWASM
		if f.Image != "" {
			s.Executor = ExecutorDocker
		}
		if f.Command != "" {
			s.Executor = ExecutorExec
		}
	}
	if s.Resources.CPUMillis == 0 {
		s.Resources.CPUMillis = DefaultCPUMillis
	}
	if s.Resources.MemoryBytes == 0 {
		s.Resources.MemoryBytes = DefaultMemory
	}
	if f.Timeout == 0 {
		s.TimeoutMS = DefaultTimeout.Milliseconds()
	}
	if s.Policy == "" {
		s.Policy = PolicyCost
	}
	if len(s.Stdin) == 0 {
		s.Stdin = nil
	}
	if f.ModuleCID != "" && f.ModuleCID != moduleCID {
		return nil, fmt.Errorf("module_cid: the module's CID is %s, the spec says %s", moduleCID, f.ModuleCID)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}
