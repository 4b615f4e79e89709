package job_test

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/computemesh/computemesh/job"
)

// testSpec returns a valid spec; each call returns a fresh copy.
func testSpec() *job.Spec {
	return &job.Spec{
		Executor:  job.ExecutorWASM,
		Module:    job.ModuleCID([]byte("\x00asm\x01\x00\x00\x00")).String(),
		Name:      "hello",
		Args:      []string{"world"},
		Env:       map[string]string{"HELLO_NAME": "computemesh"},
		Stdin:     []byte("input"),
		Resources: job.Resources{CPUMillis: 1000, MemoryBytes: 64 << 20},
		TimeoutMS: 10_000,
		MaxPrice:  1_500_000_000,
		Region:    "eu-*",
		Policy:    job.PolicyCost,
	}
}

func TestSpecValidate(t *testing.T) {
	if err := testSpec().Validate(); err != nil {
		t.Fatalf("valid spec: %v", err)
	}

	manyArgs := make([]string, job.MaxArgs+1)
	for i := range manyArgs {
		manyArgs[i] = "a"
	}
	manyEnv := map[string]string{}
	for i := 0; i <= job.MaxEnv; i++ {
		manyEnv[fmt.Sprintf("K%d", i)] = "v"
	}

	tests := []struct {
		name   string
		mutate func(s *job.Spec)
		// wantPrefix is the field the error must name first; "" means valid.
		wantPrefix string
	}{
		{"latency policy", func(s *job.Spec) { s.Policy = job.PolicyLatency }, ""},
		{"no region", func(s *job.Spec) { s.Region = "" }, ""},
		{"no max price", func(s *job.Spec) { s.MaxPrice = 0 }, ""},
		{"no args env stdin", func(s *job.Spec) { s.Args, s.Env, s.Stdin = nil, nil, nil }, ""},
		{"max args", func(s *job.Spec) { s.Args = manyArgs[:job.MaxArgs] }, ""},
		{"max timeout", func(s *job.Spec) { s.TimeoutMS = job.MaxTimeout.Milliseconds() }, ""},
		{"max cpus and memory", func(s *job.Spec) {
			s.Resources = job.Resources{CPUMillis: job.MaxCPUMillis, MemoryBytes: job.MaxMemoryBytes}
		}, ""},
		{"min cpus and memory", func(s *job.Spec) { s.Resources = job.Resources{CPUMillis: 1, MemoryBytes: 1} }, ""},

		{"url input", func(s *job.Spec) { s.Inputs = []job.Input{{Name: "d", URL: "https://example.org/d.csv"}} }, ""},
		{"url input with its cid", func(s *job.Spec) {
			s.Inputs = []job.Input{{Name: "d", URL: "http://example.org/d.csv", CID: job.ModuleCID([]byte("d")).String()}}
		}, ""},
		{"url input, other scheme", func(s *job.Spec) { s.Inputs = []job.Input{{Name: "d", URL: "file:///etc/passwd"}} }, "inputs[0].url:"},
		{"url input, credentials", func(s *job.Spec) { s.Inputs = []job.Input{{Name: "d", URL: "https://u:p@example.org/"}} }, "inputs[0].url:"},
		{"url input, no host", func(s *job.Spec) { s.Inputs = []job.Input{{Name: "d", URL: "https:///d"}} }, "inputs[0].url:"},
		{"url input, fragment", func(s *job.Spec) { s.Inputs = []job.Input{{Name: "d", URL: "https://example.org/#cid=x"}} }, "inputs[0].url:"},
		{"url input, bad cid", func(s *job.Spec) { s.Inputs = []job.Input{{Name: "d", URL: "https://example.org/", CID: "nope"}} }, "inputs[0].cid:"},
		{"url input, too long", func(s *job.Spec) {
			s.Inputs = []job.Input{{Name: "d", URL: "https://example.org/" + strings.Repeat("a", job.MaxURLLen)}}
		}, "inputs[0].url:"},
		{"input, neither url nor cid", func(s *job.Spec) { s.Inputs = []job.Input{{Name: "d"}} }, "inputs[0].cid:"},

		{"unknown executor", func(s *job.Spec) { s.Executor = "vm" }, "executor:"},
		{"empty executor", func(s *job.Spec) { s.Executor = "" }, "executor:"},
		{"missing module", func(s *job.Spec) { s.Module = "" }, "module:"},
		{"garbage module", func(s *job.Spec) { s.Module = "not-a-cid" }, "module:"},
		{"overlong module", func(s *job.Spec) { s.Module = "b" + strings.Repeat("a", 200) }, "module:"},
		{"empty name", func(s *job.Spec) { s.Name = "" }, "name:"},
		{"long name", func(s *job.Spec) { s.Name = strings.Repeat("n", job.MaxNameLen+1) }, "name:"},
		{"name not UTF-8", func(s *job.Spec) { s.Name = "\xff\xfe" }, "name:"},
		{"too many args", func(s *job.Spec) { s.Args = manyArgs }, "args:"},
		{"args too large", func(s *job.Spec) { s.Args = []string{strings.Repeat("a", job.MaxArgBytes+1)} }, "args:"},
		{"too many env", func(s *job.Spec) { s.Env = manyEnv }, "env:"},
		{"empty env name", func(s *job.Spec) { s.Env = map[string]string{"": "v"} }, "env:"},
		{"env name with =", func(s *job.Spec) { s.Env = map[string]string{"A=B": "v"} }, "env:"},
		{"env name with NUL", func(s *job.Spec) { s.Env = map[string]string{"A\x00": "v"} }, "env:"},
		{"env value with NUL", func(s *job.Spec) { s.Env = map[string]string{"A": "v\x00"} }, "env:"},
		{"env too large", func(s *job.Spec) { s.Env = map[string]string{"A": strings.Repeat("v", job.MaxEnvBytes)} }, "env:"},
		{"stdin too large", func(s *job.Spec) { s.Stdin = make([]byte, job.MaxStdin+1) }, "stdin:"},
		{"zero cpus", func(s *job.Spec) { s.Resources.CPUMillis = 0 }, "resources.cpus:"},
		{"negative cpus", func(s *job.Spec) { s.Resources.CPUMillis = -1000 }, "resources.cpus:"},
		{"too many cpus", func(s *job.Spec) { s.Resources.CPUMillis = job.MaxCPUMillis + 1 }, "resources.cpus:"},
		{"zero memory", func(s *job.Spec) { s.Resources.MemoryBytes = 0 }, "resources.memory:"},
		{"too much memory", func(s *job.Spec) { s.Resources.MemoryBytes = job.MaxMemoryBytes + 1 }, "resources.memory:"},
		{"zero timeout", func(s *job.Spec) { s.TimeoutMS = 0 }, "timeout:"},
		{"negative timeout", func(s *job.Spec) { s.TimeoutMS = -1 }, "timeout:"},
		{"timeout too long", func(s *job.Spec) { s.TimeoutMS = job.MaxTimeout.Milliseconds() + 1 }, "timeout:"},
		{"negative max price", func(s *job.Spec) { s.MaxPrice = -1 }, "max_price:"},
		{"bad region glob", func(s *job.Spec) { s.Region = "eu-[" }, "region:"},
		{"region too long", func(s *job.Spec) { s.Region = strings.Repeat("r", job.MaxRegionLen+1) }, "region:"},
		{"unknown policy", func(s *job.Spec) { s.Policy = "fastest" }, "policy:"},
		{"empty policy", func(s *job.Spec) { s.Policy = "" }, "policy:"},
	}
	// Each weight, NaN (which fails every comparison), infinite, negative
	// or past the bound, is refused naming it.
	for _, name := range []string{"cost", "latency", "reputation", "carbon"} {
		for _, v := range []float64{math.NaN(), math.Inf(1), -1, 1001} {
			tests = append(tests, struct {
				name   string
				mutate func(s *job.Spec)
				// wantPrefix is the field the error must name first; "" means valid.
				wantPrefix string
			}{fmt.Sprintf("weight %s %g", name, v), func(s *job.Spec) {
				s.Policy = job.PolicyBalanced
				w := map[string]*float64{"cost": &s.Weights.Cost, "latency": &s.Weights.Latency, "reputation": &s.Weights.Reputation, "carbon": &s.Weights.Carbon}
				*w[name] = v
			}, "weights." + name + ":"})
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testSpec()
			tt.mutate(s)
			err := s.Validate()
			if tt.wantPrefix == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate accepted an invalid spec, want an error starting with %q", tt.wantPrefix)
			}
			if !strings.HasPrefix(err.Error(), tt.wantPrefix) {
				t.Fatalf("Validate error = %q, want prefix %q", err, tt.wantPrefix)
			}
		})
	}
}

func TestResourcesString(t *testing.T) {
	tests := []struct {
		in   job.Resources
		want string
	}{
		{job.Resources{CPUMillis: 1000, MemoryBytes: 64 << 20}, "1 cpu, 64MiB"},
		{job.Resources{CPUMillis: 500, MemoryBytes: 3 << 29}, "0.5 cpu, 1.5GiB"},
		{job.Resources{CPUMillis: 2250, MemoryBytes: 100}, "2.25 cpu, 100B"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.in.String(); got != tt.want {
				t.Fatalf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRegionMatches(t *testing.T) {
	tests := []struct {
		glob, region string
		want         bool
	}{
		{"", "eu-west", true},
		{"", "", true},
		{"eu-west", "eu-west", true},
		{"eu-west", "eu-west-1", false},
		{"eu-west", "EU-WEST", false},
		{"eu-*", "eu-west", true},
		{"eu-*", "eu-", true},
		{"eu-*", "us-east", false},
		{"eu-*", "", false},
		{"*", "anywhere", true},
		{"*-west", "us-west", true},
		{"*-west", "us-east", false},
		{"eu-?est", "eu-west", true},
		{"eu-[ns]*", "eu-north", true},
		{"eu-[ns]*", "eu-west", false},
		{"eu-*", "eu-west/1", false}, // * stops at a slash
		{"eu-[", "eu-[", false},      // a malformed glob matches nothing
		{"[", "", false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q~%q", tt.glob, tt.region), func(t *testing.T) {
			if got := job.RegionMatches(tt.glob, tt.region); got != tt.want {
				t.Fatalf("RegionMatches(%q, %q) = %v, want %v", tt.glob, tt.region, got, tt.want)
			}
		})
	}
}

func TestValidateRegionGlob(t *testing.T) {
	tests := []struct {
		glob    string
		wantErr bool
	}{
		{"", false},
		{"eu-west", false},
		{"eu-*", false},
		{"[a-z]?-*", false},
		{strings.Repeat("r", job.MaxRegionLen), false},
		{strings.Repeat("r", job.MaxRegionLen+1), true},
		{"eu-[", true},
		{"eu-\\", true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%.20q", tt.glob), func(t *testing.T) {
			err := job.ValidateRegionGlob(tt.glob)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ValidateRegionGlob(%q) = %v, want error: %v", tt.glob, err, tt.wantErr)
			}
		})
	}
}

func TestSortedEnv(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"nil", nil, []string{}},
		{"one", map[string]string{"A": "1"}, []string{"A=1"}},
		{"sorted by key", map[string]string{"Z": "", "A": "x=y", "M": "m"}, []string{"A=x=y", "M=m", "Z="}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := job.SortedEnv(tt.env)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) || len(got) != len(tt.want) {
				t.Fatalf("SortedEnv(%v) = %q, want %q", tt.env, got, tt.want)
			}
		})
	}
}

func TestSpecValidateDocker(t *testing.T) {
	s := job.Spec{Executor: job.ExecutorDocker, Image: "computemesh-test/dockerjob:1", Name: "job",
		Resources: job.Resources{CPUMillis: 1000, MemoryBytes: 64 << 20}, TimeoutMS: 1000, Policy: job.PolicyCost}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		mut  func(*job.Spec)
		want string
	}{
		{"no image", func(s *job.Spec) { s.Image = "" }, "image:"},
		{"bad image", func(s *job.Spec) { s.Image = "a b" }, "image:"},
		{"module too", func(s *job.Spec) { s.Module = job.ModuleCID([]byte("m")).String() }, "module:"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := s
			tt.mut(&c)
			if err := c.Validate(); err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("Validate: %v, want prefix %q", err, tt.want)
			}
		})
	}
}
