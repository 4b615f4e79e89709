package job_test

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
)

func TestParseFileHelloExample(t *testing.T) {
	data, err := os.ReadFile("../examples/hello/hello.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := job.ParseFile("hello.yaml", data)
	if err != nil {
		t.Fatalf("ParseFile(hello.yaml): %v", err)
	}
	checks := []struct {
		field     string
		got, want any
	}{
		{"executor", f.Executor, "wasm"},
		{"module", f.Module, "hello.wasm"},
		{"args", f.Args, []string{"world"}},
		{"env", f.Env, map[string]string{"HELLO_NAME": "computemesh"}},
		{"resources", f.Resources, job.Resources{CPUMillis: 1000, MemoryBytes: 64 << 20}},
		{"timeout", f.Timeout, 10 * time.Second},
		{"policy", f.Policy, "cost"},
		{"max_price", f.MaxPrice, job.Credits(1_500_000_000)},
		{"module_cid", f.ModuleCID, ""},
		{"bid_window", f.BidWindow, time.Duration(0)},
	}
	for _, c := range checks {
		t.Run(c.field, func(t *testing.T) {
			if !reflect.DeepEqual(c.got, c.want) {
				t.Fatalf("%s = %#v, want %#v", c.field, c.got, c.want)
			}
		})
	}
	t.Run("set", func(t *testing.T) {
		want := map[string]bool{
			"executor": true, "module": true, "args": true, "env": true, "resources": true,
			"resources.cpus": true, "resources.memory": true, "timeout": true, "policy": true,
			"max_price": true,
		}
		if !reflect.DeepEqual(f.Set, want) {
			t.Fatalf("Set = %v, want %v", f.Set, want)
		}
	})
	t.Run("spec", func(t *testing.T) {
		// The example names no argv[0]; the command line supplies it.
		named := *f
		named.Name = "hello"
		mod := job.ModuleCID([]byte("hello module")).String()
		s, err := named.Spec(mod)
		if err != nil {
			t.Fatalf("Spec: %v", err)
		}
		want := &job.Spec{
			Executor: "wasm", Module: mod, Name: "hello", Args: []string{"world"},
			Env:       map[string]string{"HELLO_NAME": "computemesh"},
			Resources: job.Resources{CPUMillis: 1000, MemoryBytes: 64 << 20},
			TimeoutMS: 10_000, MaxPrice: 1_500_000_000, Policy: "cost",
		}
		if !reflect.DeepEqual(s, want) {
			t.Fatalf("Spec =\n%+v\nwant\n%+v", s, want)
		}
	})
}

func TestParseFileAllFields(t *testing.T) {
	const src = `executor: wasm
module: m.wasm
module_cid: bafkreiabc
name: prog
args: ["a", "b c"]
env: {A: "1", B: two}
stdin: "line\n"
resources: {cpus: 0.5, memory: 1GiB}
timeout: 1m30s
policy: latency
max_price: 0.25
region: eu-*
bid_window: 750ms
deterministic: true
`
	f, err := job.ParseFile("all.yaml", []byte(src))
	if err != nil {
		t.Fatalf("ParseFile: %v", err)
	}
	want := &job.File{
		Executor: "wasm", Module: "m.wasm", ModuleCID: "bafkreiabc", Name: "prog",
		Args: []string{"a", "b c"}, Env: map[string]string{"A": "1", "B": "two"},
		Stdin: "line\n", Resources: job.Resources{CPUMillis: 500, MemoryBytes: 1 << 30},
		Timeout: 90 * time.Second, Policy: "latency", MaxPrice: 250_000_000, Region: "eu-*",
		BidWindow: 750 * time.Millisecond, Deterministic: true,
		Set: map[string]bool{
			"executor": true, "module": true, "module_cid": true, "name": true, "args": true,
			"env": true, "stdin": true, "resources": true, "resources.cpus": true,
			"resources.memory": true, "timeout": true, "policy": true, "max_price": true,
			"region": true, "bid_window": true, "deterministic": true,
		},
	}
	if !reflect.DeepEqual(f, want) {
		t.Fatalf("ParseFile =\n%+v\nwant\n%+v", f, want)
	}
}

func TestParseFileErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		// wantPrefix is the start of the error: "FILE:LINE: field: problem".
		wantPrefix string
		// wantSub, when set, must also appear in the error.
		wantSub string
	}{
		// Syntax errors name the line the problem is on, whether the YAML
		// library's scanner or its parser found it (the parser counts from 0).
		{
			name:       "unclosed flow sequence (parser)",
			src:        "executor: wasm\nname: x\nargs: [a, b\nenv: {}\n",
			wantPrefix: "spec.yaml: line 3: did not find expected ',' or ']'",
		},
		{
			name:       "bad indentation (scanner)",
			src:        "executor: wasm\nresources:\n  cpus: 1\n   memory: 64MiB\n",
			wantPrefix: "spec.yaml: line 4: mapping values are not allowed",
		},
		{
			name:       "memory without a unit",
			src:        "executor: wasm\nresources:\n  memory: 64\n",
			wantPrefix: "spec.yaml:3: resources.memory: \"64\" has no unit",
		},
		{
			name:       "unknown top-level field",
			src:        "executor: wasm\nname: x\ncolour: red\n",
			wantPrefix: "spec.yaml:3: colour: unknown field",
			wantSub:    "known: executor",
		},
		{
			name:       "unknown resources field",
			src:        "name: x\nresources:\n  cpus: 1\n  disks: 2\n",
			wantPrefix: "spec.yaml:4: resources.disks: unknown field",
			wantSub:    "known: cpus, memory",
		},
		{
			name:       "bad duration",
			src:        "timeout: 10 parsecs\n",
			wantPrefix: "spec.yaml:1: timeout: ",
			wantSub:    "10 parsecs",
		},
		{
			name:       "zero duration",
			src:        "name: x\ntimeout: 0s\n",
			wantPrefix: "spec.yaml:2: timeout: 0s is less than the smallest duration, 1ms",
		},
		{
			name:       "negative duration",
			src:        "timeout: -5s\n",
			wantPrefix: "spec.yaml:1: timeout: -5s is less than the smallest duration, 1ms",
		},
		{
			name:       "sub-millisecond duration",
			src:        "timeout: 500us\n",
			wantPrefix: "spec.yaml:1: timeout: 500µs is less than the smallest duration, 1ms",
		},
		{
			name:       "bad bid window",
			src:        "bid_window: soon\n",
			wantPrefix: "spec.yaml:1: bid_window: ",
		},
		{
			name:       "bad memory",
			src:        "resources:\n  cpus: 1\n  memory: lots\n",
			wantPrefix: "spec.yaml:3: resources.memory: invalid size",
		},
		{
			name:       "bad cpus",
			src:        "resources:\n  cpus: 0\n",
			wantPrefix: "spec.yaml:2: resources.cpus: invalid number of cpus",
		},
		{
			// Rounds to 0 millicores, which Spec would turn into the
			// default of one core: a tiny request becoming a large one.
			name:       "cpus below a millicore",
			src:        "resources:\n  cpus: 0.0001\n",
			wantPrefix: "spec.yaml:2: resources.cpus: invalid number of cpus",
		},
		{
			name:       "bad max price",
			src:        "max_price: -1\n",
			wantPrefix: "spec.yaml:1: max_price: invalid amount of credits",
		},
		{
			name:       "set twice",
			src:        "name: a\nargs: []\nname: b\n",
			wantPrefix: "spec.yaml:3: name: set twice",
		},
		{
			name:       "list where scalar expected",
			src:        "executor:\n  - wasm\n",
			wantPrefix: "spec.yaml:2: executor: want a single value",
		},
		{
			name:       "mapping where scalar expected",
			src:        "timeout: {seconds: 3}\n",
			wantPrefix: "spec.yaml:1: timeout: want a single value",
		},
		{
			name:       "list in resources",
			src:        "resources:\n  cpus: [1, 2]\n",
			wantPrefix: "spec.yaml:2: resources.cpus: want a single value",
		},
		{
			name:       "resources not a mapping",
			src:        "resources: 4\n",
			wantPrefix: "spec.yaml:1: resources: want a mapping",
		},
		{
			name:       "scalar where list expected",
			src:        "args: world\n",
			wantPrefix: "spec.yaml:1: args: ",
			wantSub:    "cannot unmarshal",
		},
		{
			name:       "list where env mapping expected",
			src:        "env: [A]\n",
			wantPrefix: "spec.yaml:1: env: ",
		},
		{
			name:       "bad boolean",
			src:        "deterministic: maybe\n",
			wantPrefix: "spec.yaml:1: deterministic: ",
		},
		{
			name:       "empty document",
			src:        "",
			wantPrefix: "spec.yaml: empty job spec",
		},
		{
			name:       "comments only",
			src:        "# nothing here\n",
			wantPrefix: "spec.yaml: empty job spec",
		},
		{
			name:       "list document",
			src:        "- executor\n- wasm\n",
			wantPrefix: "spec.yaml:1: a job spec is a mapping",
		},
		{
			name:       "scalar document",
			src:        "\n\nhello\n",
			wantPrefix: "spec.yaml:3: a job spec is a mapping",
		},
		{
			name:       "invalid YAML",
			src:        "args: [a, b\n",
			wantPrefix: "spec.yaml: ",
		},
		{
			name:       "too large",
			src:        "name: x\n#" + strings.Repeat("x", job.MaxSpecFile),
			wantPrefix: "spec.yaml: ",
			wantSub:    "limit 1048576",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := job.ParseFile("spec.yaml", []byte(tt.src))
			if err == nil {
				t.Fatalf("ParseFile(%q) = %+v, want an error starting with %q", tt.src, f, tt.wantPrefix)
			}
			if f != nil {
				t.Errorf("ParseFile returned a File along with error %v", err)
			}
			if !strings.HasPrefix(err.Error(), tt.wantPrefix) {
				t.Fatalf("error = %q, want prefix %q", err, tt.wantPrefix)
			}
			if tt.wantSub != "" && !strings.Contains(err.Error(), tt.wantSub) {
				t.Fatalf("error = %q, want it to contain %q", err, tt.wantSub)
			}
		})
	}
}

func TestFileSpec(t *testing.T) {
	mod := job.ModuleCID([]byte("\x00asm module")).String()
	other := job.ModuleCID([]byte("another module")).String()

	t.Run("defaults", func(t *testing.T) {
		f := &job.File{Name: "prog", Set: map[string]bool{}}
		s, err := f.Spec(mod)
		if err != nil {
			t.Fatalf("Spec: %v", err)
		}
		want := &job.Spec{
			Executor: job.ExecutorWASM, Module: mod, Name: "prog",
			Resources: job.Resources{CPUMillis: job.DefaultCPUMillis, MemoryBytes: job.DefaultMemory},
			TimeoutMS: job.DefaultTimeout.Milliseconds(), Policy: job.PolicyCost,
		}
		if !reflect.DeepEqual(s, want) {
			t.Fatalf("Spec =\n%+v\nwant\n%+v", s, want)
		}
		if s.Timeout() != 30*time.Second || s.Resources.CPUMillis != 1000 || s.Resources.MemoryBytes != 64<<20 {
			t.Fatalf("defaults are not 1 cpu, 64MiB, 30s: %+v", s)
		}
	})

	t.Run("values kept", func(t *testing.T) {
		f := &job.File{
			Executor: "wasm", Name: "p", Args: []string{"x"}, Env: map[string]string{"K": "v"},
			Stdin: "in", Resources: job.Resources{CPUMillis: 250, MemoryBytes: 1 << 20},
			Timeout: 1500 * time.Millisecond, Policy: job.PolicyLatency, MaxPrice: 7,
			Region: "us-*", Deterministic: true, ModuleCID: mod,
		}
		s, err := f.Spec(mod)
		if err != nil {
			t.Fatalf("Spec: %v", err)
		}
		want := &job.Spec{
			Executor: "wasm", Module: mod, Name: "p", Args: []string{"x"}, Env: map[string]string{"K": "v"},
			Stdin: []byte("in"), Resources: job.Resources{CPUMillis: 250, MemoryBytes: 1 << 20},
			TimeoutMS: 1500, MaxPrice: 7, Region: "us-*", Policy: job.PolicyLatency, Deterministic: true,
		}
		if !reflect.DeepEqual(s, want) {
			t.Fatalf("Spec =\n%+v\nwant\n%+v", s, want)
		}
	})

	t.Run("module_cid mismatch", func(t *testing.T) {
		f := &job.File{Name: "p", ModuleCID: other}
		s, err := f.Spec(mod)
		if err == nil {
			t.Fatalf("Spec = %+v, want a module_cid error", s)
		}
		if !strings.HasPrefix(err.Error(), "module_cid:") || !strings.Contains(err.Error(), mod) || !strings.Contains(err.Error(), other) {
			t.Fatalf("error = %q, want a module_cid error naming both CIDs", err)
		}
	})

	invalid := []struct {
		name       string
		file       job.File
		moduleCID  string
		wantPrefix string
	}{
		{"no name", job.File{}, mod, "name:"},
		{"bad executor", job.File{Name: "p", Executor: "vm"}, mod, "executor:"},
		{"bad module CID", job.File{Name: "p"}, "not-a-cid", "module:"},
		{"bad policy", job.File{Name: "p", Policy: "fastest"}, mod, "policy:"},
		{"bad region", job.File{Name: "p", Region: "eu-["}, mod, "region:"},
		{"timeout too long", job.File{Name: "p", Timeout: 25 * time.Hour}, mod, "timeout:"},
		{"negative max price", job.File{Name: "p", MaxPrice: -1}, mod, "max_price:"},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			s, err := tt.file.Spec(tt.moduleCID)
			if err == nil {
				t.Fatalf("Spec = %+v, want an error starting with %q", s, tt.wantPrefix)
			}
			if !strings.HasPrefix(err.Error(), tt.wantPrefix) {
				t.Fatalf("error = %q, want prefix %q", err, tt.wantPrefix)
			}
		})
	}
}

var knownFileFields = map[string]bool{
	"executor": true, "module": true, "module_cid": true, "name": true, "args": true,
	"env": true, "stdin": true, "resources": true, "resources.cpus": true,
	"resources.memory": true, "resources.gpus": true, "resources.gpu_model": true, "resources.min_vram": true, "inputs": true, "image": true, "command": true, "network": true, "timeout": true, "policy": true, "max_price": true,
	"region": true, "bid_window": true, "deterministic": true,
}

// FuzzParseFile checks that ParseFile never panics on any input, that every
// error names the file, and that what it accepts only sets known fields with
// values in range.
func FuzzParseFile(f *testing.F) {
	if b, err := os.ReadFile("../examples/hello/hello.yaml"); err == nil {
		f.Add(b)
	}
	for _, s := range []string{
		"",
		"executor: wasm\nname: x\ncolour: red\n",
		"resources:\n  cpus: 1\n  disks: 2\n",
		"resources: {cpus: 0.5, memory: 1GiB}\ntimeout: 1m\n",
		"name: a\nname: b\n",
		"args: &a [x, y]\nenv: *a\n",
		"a: &a [x]\nb: &b [*a, *a]\nargs: *b\n",
		"- a\n- b\n",
		"timeout: 0s\n",
		"max_price: 1.000000001\nbid_window: 1ns\n",
		"? [a]\n: b\n",
		"deterministic: yes\nstdin: !!binary aGk=\n",
		"--- \n...\n--- \nname: x\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := job.ParseFile("fuzz.yaml", data)
		if err != nil {
			if file != nil {
				t.Fatalf("ParseFile returned a File along with error %v", err)
			}
			if !strings.HasPrefix(err.Error(), "fuzz.yaml") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		for k := range file.Set {
			if !knownFileFields[k] {
				t.Fatalf("ParseFile accepted unknown field %q", k)
			}
		}
		if file.Timeout < 0 || file.BidWindow < 0 || file.MaxPrice < 0 {
			t.Fatalf("negative value accepted: timeout %v, bid_window %v, max_price %d", file.Timeout, file.BidWindow, int64(file.MaxPrice))
		}
		if file.Set["timeout"] && file.Timeout == 0 || file.Set["bid_window"] && file.BidWindow == 0 {
			t.Fatalf("zero duration accepted: timeout %v, bid_window %v", file.Timeout, file.BidWindow)
		}
		if r := file.Resources; r.CPUMillis < 0 || r.CPUMillis > job.MaxCPUMillis ||
			file.Set["resources.cpus"] && r.CPUMillis == 0 {
			t.Fatalf("cpus out of range accepted: %d millicores", r.CPUMillis)
		}
		// Spec must not panic either, whatever the file holds.
		_, _ = file.Spec(job.ModuleCID(data).String())
	})
}

// inputs: in a job file, a URL (with the CID its bytes must match, or
// none) beside paths and CIDs; an input with neither is refused.
func TestParseFileURLInputs(t *testing.T) {
	const src = `executor: wasm
module: m.wasm
inputs:
  - {name: a, path: a.txt}
  - {name: b, url: "https://example.org/b.csv"}
  - {name: c, url: "https://example.org/c.csv", cid: bafkreiabc}
`
	f, err := job.ParseFile("in.yaml", []byte(src))
	if err != nil {
		t.Fatalf("ParseFile: %v", err)
	}
	want := []string{"a=a.txt", "b=https://example.org/b.csv", "c=https://example.org/c.csv#cid=bafkreiabc"}
	if !reflect.DeepEqual(f.Inputs, want) {
		t.Fatalf("inputs %q, want %q", f.Inputs, want)
	}
	if _, err := job.ParseFile("bad.yaml", []byte("executor: wasm\nmodule: m.wasm\ninputs:\n  - {name: d}\n")); err == nil || !strings.Contains(err.Error(), "inputs[0]") {
		t.Fatalf("an input with neither path, cid nor url: %v", err)
	}
}
