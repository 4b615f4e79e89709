package job

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Validate checks every field of s against the limits of this package and
// names the first field that is wrong.
func (s *Spec) Validate() error {
	for _, check := range specChecks {
		if err := check(s); err != nil {
			return err
		}
	}
	return nil
}

// specChecks are the checks of Validate, in the order in which the first
// wrong field is named.
var specChecks = []func(s *Spec) error{
	(*Spec).checkExecutor,
	(*Spec).checkName,
	(*Spec).checkArgs,
	(*Spec).checkEnv,
	func(s *Spec) error {
		if len(s.Stdin) > MaxStdin {
			return fmt.Errorf("stdin: %d bytes, limit %d", len(s.Stdin), MaxStdin)
		}
		return nil
	},
	func(s *Spec) error { return s.Resources.Validate() },
	(*Spec).checkLimits,
	(*Spec).checkInputs,
	(*Spec).checkPlacement,
	(*Spec).checkChoice,
	(*Spec).checkCount,
}

// checkExecutor checks the executor and that the job names what it runs
// (module, image or command) and nothing else.
func (s *Spec) checkExecutor() error {
	switch s.Executor {
	case ExecutorWASM:
		if _, err := ParseCID(s.Module); err != nil {
			return fmt.Errorf("module: %w", err)
		}
		if s.Image != "" {
			return fmt.Errorf("image: a wasm job has a module, not an image")
		}
		if s.Command != "" {
			return fmt.Errorf("command: a wasm job has a module, not a command")
		}
	case ExecutorDocker:
		if err := ValidateImage(s.Image); err != nil {
			return fmt.Errorf("image: %w", err)
		}
		if s.Module != "" {
			return fmt.Errorf("module: a docker job has an image, not a module")
		}
		if s.Command != "" {
			return fmt.Errorf("command: a docker job has an image, not a command (use args)")
		}
	case ExecutorExec:
		if err := ValidateCommand(s.Command); err != nil {
			return fmt.Errorf("command: %w", err)
		}
		if s.Module != "" || s.Image != "" {
			return fmt.Errorf("module, image: an exec job has a command, not a module or an image")
		}
	default:
		return fmt.Errorf("executor: %q is not supported (supported: %s, %s, %s)", s.Executor, ExecutorWASM, ExecutorDocker, ExecutorExec)
	}
	return nil
}

func (s *Spec) checkName() error {
	if s.Name == "" || len(s.Name) > MaxNameLen || !utf8.ValidString(s.Name) {
		return fmt.Errorf("name: must be 1 to %d bytes of UTF-8", MaxNameLen)
	}
	return nil
}

func (s *Spec) checkArgs() error {
	if len(s.Args) > MaxArgs {
		return fmt.Errorf("args: %d arguments, limit %d", len(s.Args), MaxArgs)
	}
	n := 0
	for _, a := range s.Args {
		n += len(a)
	}
	if n > MaxArgBytes {
		return fmt.Errorf("args: %d bytes, limit %d", n, MaxArgBytes)
	}
	return nil
}

func (s *Spec) checkEnv() error {
	if len(s.Env) > MaxEnv {
		return fmt.Errorf("env: %d variables, limit %d", len(s.Env), MaxEnv)
	}
	n := 0
	for k, v := range s.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return fmt.Errorf("env: invalid variable name %q", k)
		}
		if strings.ContainsRune(v, 0) {
			return fmt.Errorf("env: value of %s contains a NUL byte", k)
		}
		n += len(k) + len(v)
	}
	if n > MaxEnvBytes {
		return fmt.Errorf("env: %d bytes, limit %d", n, MaxEnvBytes)
	}
	return nil
}

// checkLimits checks the timeout, the price limit, the region and network
// access.
func (s *Spec) checkLimits() error {
	if s.TimeoutMS <= 0 || s.Timeout() > MaxTimeout {
		return fmt.Errorf("timeout: %v is out of range (1ms to %v)", s.Timeout(), MaxTimeout)
	}
	if s.MaxPrice < 0 {
		return fmt.Errorf("max_price: must not be negative")
	}
	if err := ValidateRegionGlob(s.Region); err != nil {
		return fmt.Errorf("region: %w", err)
	}
	if s.Network && s.Executor != ExecutorDocker && s.Executor != ExecutorExec {
		return fmt.Errorf("network: only docker and exec jobs may ask for network access")
	}
	return nil
}

func (s *Spec) checkInputs() error {
	if len(s.Inputs) > MaxInputs {
		return fmt.Errorf("inputs: %d, limit %d", len(s.Inputs), MaxInputs)
	}
	seen := map[string]bool{}
	for i, in := range s.Inputs {
		if in.Name == "" || len(in.Name) > 255 || in.Name == "." || in.Name == ".." || strings.ContainsAny(in.Name, "/\\\x00") {
			return fmt.Errorf("inputs[%d].name: %q is not a plain file name", i, in.Name)
		}
		if seen[in.Name] {
			return fmt.Errorf("inputs[%d].name: %q given twice", i, in.Name)
		}
		seen[in.Name] = true
		switch in.Source {
		case SourceClient:
		case SourceIPFS:
			if in.URL != "" {
				return fmt.Errorf("inputs[%d].source: an ipfs input has a CID, not a URL", i)
			}
			if (s.Region != "" && s.Region != "*") || len(s.NotRegions) > 0 {
				// Bitswap asks every peer the provider is connected to,
				// wherever they are, for the CID.
				return fmt.Errorf("inputs[%d].source: an ipfs input's CID is asked of peers in any region: not with region or not_regions", i)
			}
		default:
			return fmt.Errorf("inputs[%d].source: %q is not %q (the client's store) or %q", i, in.Source, SourceClient, SourceIPFS)
		}
		if in.URL != "" {
			if err := checkInputURL(in.URL); err != nil {
				return fmt.Errorf("inputs[%d].url: %w", i, err)
			}
			if in.CID == "" {
				continue
			}
		}
		if _, err := ParseCID(in.CID); err != nil {
			return fmt.Errorf("inputs[%d].cid: %w", i, err)
		}
	}
	return nil
}

// checkInputURL checks an input's URL: http or https, a host, no
// credentials (a spec travels to providers), at most MaxURLLen bytes.
func checkInputURL(raw string) error {
	if len(raw) > MaxURLLen {
		return fmt.Errorf("%d bytes, limit %d", len(raw), MaxURLLen)
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return err
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Errorf("%q: the scheme must be https or http", u.Scheme)
	case u.Host == "" || u.Hostname() == "":
		return errors.New("no host")
	case u.User != nil:
		return errors.New("credentials in a URL would travel with the job: not allowed")
	case u.Fragment != "":
		return errors.New("a fragment is not sent to the server: leave it out (give an expected CID as the input's cid)")
	}
	return nil
}

// IPFSInputs returns the CIDs of the job's inputs from IPFS.
func (s *Spec) IPFSInputs() []string {
	var out []string
	for _, in := range s.Inputs {
		if in.Source == SourceIPFS {
			out = append(out, in.CID)
		}
	}
	return out
}

// HasURLInputs reports whether a job has inputs a provider fetches from
// URLs.
func (s *Spec) HasURLInputs() bool {
	for _, in := range s.Inputs {
		if in.URL != "" {
			return true
		}
	}
	return false
}

// checkPlacement checks the policy and the regions to avoid.
func (s *Spec) checkPlacement() error {
	if s.Publish && ((s.Region != "" && s.Region != "*") || len(s.NotRegions) > 0) {
		return fmt.Errorf("publish: published outputs are announced on the DHT, whose records land on peers in any region: not with region or not_regions")
	}
	if s.Policy != PolicyCost && s.Policy != PolicyLatency && s.Policy != PolicyBalanced && s.Policy != PolicyGreen {
		return fmt.Errorf("policy: %q is not one of %s, %s, %s, %s", s.Policy, PolicyCost, PolicyLatency, PolicyBalanced, PolicyGreen)
	}
	if len(s.NotRegions) > MaxNotRegions {
		return fmt.Errorf("not_regions: %d globs, limit %d", len(s.NotRegions), MaxNotRegions)
	}
	for i, g := range s.NotRegions {
		if g == "" {
			return fmt.Errorf("not_regions[%d]: empty", i)
		}
		if err := ValidateRegionGlob(g); err != nil {
			return fmt.Errorf("not_regions[%d]: %w", i, err)
		}
	}
	return nil
}

// checkChoice checks how the winner is chosen and paid: weights, auction,
// replicas, reputation and expected run time.
func (s *Spec) checkChoice() error {
	w := s.Weights
	for _, f := range []struct {
		name string
		v    float64
	}{{"cost", w.Cost}, {"latency", w.Latency}, {"reputation", w.Reputation}, {"carbon", w.Carbon}} {
		if !(f.v >= 0 && f.v <= 1000) { // NaN fails both comparisons: it must fail this one
			return fmt.Errorf("weights.%s: %g must be 0 to 1000", f.name, f.v)
		}
	}
	if s.Weights != (Weights{}) && s.Policy != PolicyBalanced {
		return fmt.Errorf("weights: only policy %s takes weights (policy is %s)", PolicyBalanced, s.Policy)
	}
	switch s.Auction {
	case "", AuctionFirstPrice, AuctionSecondPrice:
	default:
		return fmt.Errorf("auction: %q is not one of %s, %s", s.Auction, AuctionFirstPrice, AuctionSecondPrice)
	}
	if s.Replicas < 0 || s.Replicas > MaxReplicas {
		return fmt.Errorf("replicas: %d is out of range (1 to %d)", s.Replicas, MaxReplicas)
	}
	if s.MinReputation < 0 || s.MinReputation > 1 {
		return fmt.Errorf("min_reputation: %g is out of range (0 to 1)", s.MinReputation)
	}
	if s.ExpectedMS < 0 || s.ExpectedMS > MaxTimeout.Milliseconds() {
		return fmt.Errorf("expected_ms: %d is out of range (0 to %d)", s.ExpectedMS, MaxTimeout.Milliseconds())
	}
	if s.MaxCarbon < 0 || s.MaxCarbon > MaxCarbon {
		return fmt.Errorf("max_carbon_ug: %d is out of range (0 to %d)", s.MaxCarbon, MaxCarbon)
	}
	return nil
}
