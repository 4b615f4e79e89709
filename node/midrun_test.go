package node

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
)

var guest struct {
	once sync.Once
	mod  []byte
	err  error
}

// guestModule builds the executor's test guest (argv[1] picks what it does:
// sleep, exit, loop, ...) once per test binary.
func guestModule(t testing.TB) []byte {
	t.Helper()
	guest.once.Do(buildGuest)
	if guest.err != nil {
		t.Fatalf("building the guest module: %v\n%s", guest.err, guest.mod)
	}
	return guest.mod
}

func buildGuest() {
	dir, err := os.MkdirTemp("", "computemesh-guest")
	if err != nil {
		guest.err = err
		return
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "guest.wasm")
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", out, "../executor/testdata/guest")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		guest.err = err
		guest.mod = b
		return
	}
	guest.mod, guest.err = os.ReadFile(out)
}

func guestSpec(t testing.TB, args ...string) Submission {
	sub := moduleSpec(t, guestModule(t), "guest.wasm")
	sub.Spec.Args = args
	return sub
}

// moduleSpec is helloSpec's submission with another module (no args).
func moduleSpec(t testing.TB, mod []byte, name string) Submission {
	sub := helloSpec(t, nil)
	sub.Module = mod
	sub.Spec.Module = job.ModuleCID(mod).String()
	sub.Spec.Name = name
	sub.Spec.Args = nil
	return sub
}

func TestEndToEndFailoverWhenWinnerDiesMidRun(t *testing.T) {
	t.Parallel()
	client, provs := testMesh(t, []provSpec{{"us-east", "0.5"}, {"eu-west", "0.9"}})
	sub := guestSpec(t, "sleep", "3s")
	var once sync.Once
	out := submit(t, client, sub, func(e job.Event) {
		if e.Kind == job.EventRunning && e.Provider == provs[0].ID().String() {
			once.Do(func() {
				go func() {
					time.Sleep(500 * time.Millisecond) // mid-run
					provs[0].Close()
				}()
			})
		}
	})
	if out.State != job.StateCompleted {
		t.Fatalf("state %s: %s", out.State, out.Error)
	}
	if out.Provider != provs[1].ID().String() || out.Attempts != 2 {
		t.Fatalf("ran on %s after %d attempts; want %s after 2", out.Provider, out.Attempts, provs[1].ID())
	}
}

func TestEndToEndJobFailsAndTimesOut(t *testing.T) {
	t.Parallel()
	client, _ := testMesh(t, []provSpec{{"us-east", "0.5"}})
	out := submit(t, client, guestSpec(t, "exit", "3"), nil)
	if out.State != job.StateFailed || out.ExitCode != 3 || !strings.Contains(out.Error, "exited with code 3") {
		t.Fatalf("exit 3: state %s exit %d error %q", out.State, out.ExitCode, out.Error)
	}
	sub := guestSpec(t, "loop")
	sub.Spec.TimeoutMS = 1500
	out = submit(t, client, sub, nil)
	if out.State != job.StateTimeout {
		t.Fatalf("infinite loop: state %s (%s), want timeout", out.State, out.Error)
	}
	if out.Charge > out.Price || out.Charge <= 0 {
		t.Fatalf("charge %s for a timed-out job with price %s", out.Charge, out.Price)
	}
}
