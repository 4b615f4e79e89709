package node

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/computemesh/computemesh/examples/hello"
	"github.com/computemesh/computemesh/executor"
	"github.com/computemesh/computemesh/job"
)

// testParallel is how many of the package's parallel tests run at once
// unless -test.parallel says otherwise. Most of them wait on the network
// and on their jobs' timers (a sleeping guest, a provider's heartbeat), not
// on the CPU: the default (GOMAXPROCS, 2 on CI) leaves the machine idle.
const testParallel = 6

func TestMain(m *testing.M) {
	flag.Parse()
	if os.Getenv(arrayClientEnv) != "" { // a client process a test starts and kills: its one test, no guests
		os.Exit(m.Run())
	}
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		if err := flag.Set("test.parallel", fmt.Sprint(testParallel)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	// One WASM cache for every node of the test binary, the Go guest
	// (hello, 2.6 MB) compiled into it before any test starts: otherwise
	// every provider of every test compiles it at its first job, 15 s and
	// more under the race detector, several at once on a busy machine.
	dir, err := os.MkdirTemp("", "computemesh-node-test-wasm-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if err := os.Setenv(WASMCacheEnv, dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if err := precompile(dir); err != nil {
		fmt.Fprintln(os.Stderr, "compiling the test guests:", err)
		os.RemoveAll(dir)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	if code == 0 {
		if leaked := leftGoroutines(30 * time.Second); leaked != "" {
			fmt.Fprintf(os.Stderr, "goroutines of computemesh still run after every test ended (each node is closed in its test's cleanup):\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// leftGoroutines waits up to wait for every goroutine running computemesh
// code (other than the test binary's own main and test runners) to end,
// and returns the stacks of those that did not.
func leftGoroutines(wait time.Duration) string {
	deadline := time.Now().Add(wait)
	for {
		buf := make([]byte, 16<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var left []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "github.com/computemesh/computemesh/") &&
				!strings.Contains(g, "node.TestMain") && !strings.Contains(g, "node.leftGoroutines") && !strings.Contains(g, "testing.tRunner") {
				left = append(left, g)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return strings.Join(left, "\n\n")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// precompile runs the Go guests once each (at once, one a core) with a
// WASM executor on the cache dir, as a provider runs helloSpec and
// guestSpec: their compiled code stays in the cache.
func precompile(dir string) error {
	w, err := executor.NewWASM(executor.WithCacheDir(dir))
	if err != nil {
		return err
	}
	defer w.Close()
	guest.once.Do(buildGuest)
	if guest.err != nil {
		return fmt.Errorf("building the guest module: %v\n%s", guest.err, guest.mod)
	}
	run := func(name string, mod []byte, args ...string) error {
		res, err := w.Run(context.Background(), executor.Task{Name: name, Module: mod, ModuleKey: job.ModuleCID(mod).String(),
			Args: args, MemoryBytes: 64 << 20, Timeout: time.Minute})
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if res.ExitCode != 0 {
			return fmt.Errorf("%s: exit %d: %s %s", name, res.ExitCode, res.Reason, res.Stderr)
		}
		return nil
	}
	errc := make(chan error, 1)
	go func() { errc <- run("guest.wasm", guest.mod, "exit", "0") }()
	return errors.Join(run("hello.wasm", hello.Module(), "world"), <-errc)
}

// short abbreviates a peer ID for the tests' logs.
func short(id string) string {
	if len(id) > 12 {
		return id[:4] + "…" + id[len(id)-6:]
	}
	return id
}
