package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/computemesh/computemesh"

// pkg is what `go list -json` says of one package.
type pkg struct {
	ImportPath   string
	Imports      []string
	Deps         []string // transitive imports of the non-test code
	TestImports  []string
	XTestImports []string
	Error        *struct{ Err string }
}

// allImports is what p imports directly, its tests included.
func (p *pkg) allImports() []string {
	return uniq(p.Imports, p.TestImports, p.XTestImports)
}

// uniq returns the sorted union of lists.
func uniq(lists ...[]string) []string {
	all := slices.Concat(lists...)
	slices.Sort(all)
	return slices.Compact(all)
}

// listModule runs `go list` over every package of the module.
func listModule(t *testing.T) map[string]*pkg {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("the go command is not in PATH: %v", err)
	}
	cmd := exec.Command(goTool, "list", "-e",
		"-json=ImportPath,Imports,Deps,TestImports,XTestImports,Error", module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	pkgs := map[string]*pkg{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		p := new(pkg)
		if err := dec.Decode(p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decoding go list output: %v", err)
		}
		if p.Error != nil {
			t.Logf("go list: %s: %s", p.ImportPath, p.Error.Err)
		}
		pkgs[p.ImportPath] = p
	}
	// Guard against passing vacuously on a listing that lost packages.
	for _, rel := range []string{"job", "market", "scheduler", "ledger", "mesh", "award", "content", "credits", "client", "provider", "node", "cmd/meshnode"} {
		if pkgs[module+"/"+rel] == nil {
			t.Fatalf("go list did not list %s/%s (listed %d packages)", module, rel, len(pkgs))
		}
	}
	return pkgs
}

func short(path string) string { return strings.TrimPrefix(path, module+"/") }

func isModulePkg(path string) bool { return path == module || strings.HasPrefix(path, module+"/") }

func under(path, dir string) bool {
	p := module + "/" + dir
	return path == p || strings.HasPrefix(path, p+"/")
}

func TestImportGraph(t *testing.T) {
	pkgs := listModule(t)
	leaves := []string{"job", "market", "scheduler", "sim", "ledger"}

	t.Run("leaf packages do not depend on libp2p", func(t *testing.T) {
		for _, leaf := range leaves {
			p := pkgs[module+"/"+leaf]
			var bad []string
			for _, d := range p.Deps {
				if strings.HasPrefix(d, "github.com/libp2p/") {
					bad = append(bad, d)
				}
			}
			if len(bad) > 0 {
				t.Errorf("%s depends (transitively) on %d libp2p packages, first %s; its direct imports are %v: the leaf packages must build without libp2p",
					leaf, len(bad), bad[0], p.Imports)
			}
		}
	})

	t.Run("job imports no other computemesh package", func(t *testing.T) {
		p := pkgs[module+"/job"]
		for _, d := range p.Deps {
			if isModulePkg(d) {
				t.Errorf("job depends on %s: job is the leaf of the import graph and imports no computemesh package", d)
			}
		}
		for _, d := range p.allImports() {
			if isModulePkg(d) && d != p.ImportPath {
				t.Errorf("job's tests import %s: job is tested on its own", d)
			}
		}
	})

	t.Run("scheduler and market stay off the network layers", func(t *testing.T) {
		forbidden := []string{"node", "mesh", "api", "executor"}
		for _, leaf := range []string{"scheduler", "market"} {
			p := pkgs[module+"/"+leaf]
			for _, d := range uniq(p.Deps, p.allImports()) {
				for _, f := range forbidden {
					if under(d, f) {
						t.Errorf("%s imports %s (directly, transitively or in its tests): %s must not depend on %s", leaf, d, leaf, f)
					}
				}
			}
		}
	})

	t.Run("sim imports only job, scheduler, market and the standard library", func(t *testing.T) {
		p := pkgs[module+"/sim"]
		if p == nil {
			t.Fatalf("go list did not list %s/sim", module)
		}
		allowed := []string{module + "/job", module + "/scheduler", module + "/market"}
		for _, d := range p.allImports() {
			if d == p.ImportPath || slices.Contains(allowed, d) {
				continue
			}
			if isModulePkg(d) || strings.Contains(strings.SplitN(d, "/", 2)[0], ".") {
				t.Errorf("sim imports %s: the simulator drives the pure packages only (job, scheduler, market, the standard library)", d)
			}
		}
	})

	t.Run("ledger imports only job, market, internal/atomicfile and the standard library", func(t *testing.T) {
		p := pkgs[module+"/ledger"]
		// internal/atomicfile is held to the standard library below: it
		// writes the log's header durably and brings nothing else in.
		allowed := []string{module + "/job", module + "/market", module + "/internal/atomicfile"}
		for _, d := range p.allImports() {
			if d == p.ImportPath || slices.Contains(allowed, d) {
				continue
			}
			if isModulePkg(d) || strings.Contains(strings.SplitN(d, "/", 2)[0], ".") {
				if d == "pgregory.net/rapid" && slices.Contains(uniq(p.TestImports, p.XTestImports), d) && !slices.Contains(p.Imports, d) {
					continue // property tests
				}
				t.Errorf("ledger imports %s: the ledger is pure (job, market, internal/atomicfile, the standard library); the node injects signature checks", d)
			}
		}
	})

	t.Run("internal/atomicfile imports only the standard library", func(t *testing.T) {
		p := pkgs[module+"/internal/atomicfile"]
		if p == nil {
			t.Fatalf("go list did not list %s/internal/atomicfile", module)
		}
		for _, d := range uniq(p.Deps, p.allImports()) {
			if d == p.ImportPath {
				continue
			}
			if isModulePkg(d) || strings.Contains(strings.SplitN(d, "/", 2)[0], ".") {
				t.Errorf("internal/atomicfile imports %s: it is imported by the pure ledger, so it uses the standard library only", d)
			}
		}
	})

	t.Run("api imports only job, ledger, internal/atomicfile and the standard library", func(t *testing.T) {
		p := pkgs[module+"/api"]
		if p == nil {
			t.Fatalf("go list did not list %s/api", module)
		}
		// Its types mirror the node's and mesh's rather than import them,
		// so that a program using the client need not build libp2p.
		// Its tests may hold its answers to the OpenAPI document too.
		allowed := []string{module + "/job", module + "/ledger", module + "/internal/atomicfile"}
		for _, d := range p.allImports() {
			if d == p.ImportPath || slices.Contains(allowed, d) || (d == module+"/internal/openapitest" && !slices.Contains(p.Imports, d)) {
				continue
			}
			if isModulePkg(d) || strings.Contains(strings.SplitN(d, "/", 2)[0], ".") {
				t.Errorf("api imports %s: the API's types and client use job, ledger, internal/atomicfile and the standard library only", d)
			}
		}
	})

	t.Run("testnet decodes api types, not node's", func(t *testing.T) {
		for path, p := range pkgs {
			if !under(path, "testnet") {
				continue
			}
			for _, d := range p.allImports() {
				if under(d, "node") {
					t.Errorf("%s imports %s: the testnet drives nodes through the CLI and decodes what they answer into api types", short(path), d)
				}
			}
		}
	})

	t.Run("credits stays off the node, the API and the executors", func(t *testing.T) {
		// A role package: the node composes it, and it reaches the mesh
		// through an interface of its own.
		p := pkgs[module+"/credits"]
		forbidden := []string{"node", "api", "executor"}
		for _, d := range uniq(p.Deps, p.allImports()) {
			for _, f := range forbidden {
				if under(d, f) {
					t.Errorf("credits imports %s (directly, transitively or in its tests): the node's roles do not depend on the node, its API or its executors", d)
				}
			}
		}
	})

	t.Run("client stays off the node, the commands and the testnet", func(t *testing.T) {
		// A role package: the node composes it (start-up order, Close,
		// forwarders), so it cannot depend on the node; it reaches the mesh
		// through its own Mesh interface; the commands and the testnet
		// drive nodes from above it.
		p := pkgs[module+"/client"]
		forbidden := []string{"node", "cmd", "testnet"}
		for _, d := range uniq(p.Deps, p.allImports()) {
			for _, f := range forbidden {
				if under(d, f) {
					t.Errorf("client imports %s (directly, transitively or in its tests): the client role does not depend on the node that composes it, on the commands or on the testnet", d)
				}
			}
		}
	})

	t.Run("provider stays off the node and the API", func(t *testing.T) {
		// A role package: the node composes it, and it reaches the mesh
		// and the ledger through interfaces of its own.
		p := pkgs[module+"/provider"]
		for _, d := range uniq(p.Deps, p.allImports()) {
			for _, f := range []string{"node", "api", "testnet", "cmd"} {
				if under(d, f) {
					t.Errorf("provider imports %s (directly, transitively or in its tests): a role does not depend on the node, its API, the testnet or the CLI", d)
				}
			}
		}
	})

	t.Run("award holds the protocol, below the roles", func(t *testing.T) {
		// Both ends of the award protocol: the roles use it, so it depends
		// on neither of them, nor on the node, the API, the commands or
		// the testnet (job, mesh for framing and libp2p's core are its own).
		p := pkgs[module+"/award"]
		if p == nil {
			t.Fatalf("go list did not list %s/award", module)
		}
		for _, d := range uniq(p.Deps, p.allImports()) {
			for _, f := range []string{"node", "client", "provider", "credits", "api", "cmd", "testnet"} {
				if under(d, f) {
					t.Errorf("award imports %s (directly, transitively or in its tests): the protocol sits below the roles and the ledger, which reach it through its Payer and Payee", d)
				}
			}
		}
	})

	t.Run("only cmd and the testnet's runner import testnet", func(t *testing.T) {
		for path, p := range pkgs {
			if under(path, "cmd") || under(path, "testnet") {
				continue
			}
			for _, d := range uniq(p.Deps, p.allImports()) {
				if under(d, "testnet") {
					t.Errorf("%s imports %s: the testnet drives nodes from outside (the CLI), nothing inside depends on it", short(path), d)
				}
			}
		}
	})

	t.Run("content uses the network through its Fetcher only", func(t *testing.T) {
		p := pkgs[module+"/content"]
		for _, d := range p.Deps {
			for _, f := range []string{"node", "mesh", "api", "executor", "testnet"} {
				if under(d, f) {
					t.Errorf("content imports %s: it is a part both roles use, below them (the mesh comes in as a content.Fetcher)", d)
				}
			}
		}
	})

	t.Run("nothing but cmd imports cmd", func(t *testing.T) {
		for path, p := range pkgs {
			if under(path, "cmd") {
				continue
			}
			for _, d := range uniq(p.Deps, p.allImports()) {
				if under(d, "cmd") {
					t.Errorf("%s imports %s: only packages under cmd/ may import cmd/...", short(path), d)
				}
			}
		}
	})
}

// TestChecksSeeViolations makes sure the predicates above flag what they
// should, so a broken predicate cannot pass the real graph vacuously.
func TestChecksSeeViolations(t *testing.T) {
	tests := []struct {
		path, dir string
		want      bool
	}{
		{module + "/mesh", "mesh", true},
		{module + "/mesh/sub", "mesh", true},
		{module + "/meshutil", "mesh", false},
		{module + "/cmd/meshnode", "cmd", true},
		{module + "/cmdline", "cmd", false},
		{"example.com/x/mesh", "mesh", false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			if got := under(tt.path, tt.dir); got != tt.want {
				t.Fatalf("under(%q, %q) = %v, want %v", tt.path, tt.dir, got, tt.want)
			}
		})
	}
	for path, want := range map[string]bool{
		module: true, module + "/job": true, module + "x/job": false, "github.com/libp2p/go-libp2p": false,
	} {
		if got := isModulePkg(path); got != want {
			t.Errorf("isModulePkg(%q) = %v, want %v", path, got, want)
		}
	}
}
