package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/internal/idref"
)

// A job submitted through a running node belongs to the node: submit
// --detach prints its ID and returns at once, and Ctrl-C during a submit
// stops following it (exit 130, saying how to follow or cancel it) while
// the job runs to its end; progress lines go to stderr whether or not it
// is a terminal, and --quiet silences them.
func TestCLIDetach(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a mesh of processes")
	}
	t.Parallel()
	home := t.TempDir()
	network := randomNetwork(t)
	guest, err := guestModule()
	if err != nil {
		t.Fatal(err)
	}
	prov := startProvider(t, home, network, "prov", "eu-west", "0.5", nil)
	client := startProvider(t, home, network, "client", "eu-west", "0.5", []string{prov.info.addr(t, "tcp")}, "--mode", "client")
	via := func(args ...string) []string {
		return append([]string{"submit", "--data-dir", client.dataDir, "--bid-window", "1s", "--wasm", guest}, args...)
	}
	// Wait for the mesh, with progress on stderr though it is no terminal.
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		r := meshnode(t, home, via("--", "hello")...)
		if r.code == 0 {
			if !strings.Contains(r.stderr, "winner") || !strings.Contains(r.stderr, "completed on") {
				t.Fatalf("submit: want progress lines and the summary on stderr\n%s", r)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the client never ran a job\n%s", r)
		}
	}
	if r := meshnode(t, home, via("--quiet", "--", "hello")...); r.code != 0 || strings.Contains(r.stderr, "winner") {
		t.Fatalf("submit --quiet: want exit 0 and no progress lines\n%s", r)
	}

	r := meshnode(t, home, via("--detach", "--", "sleep", "1s")...)
	id := strings.TrimSpace(r.stdout)
	if r.code != 0 || !strings.HasPrefix(id, "bagaaiera") || !strings.Contains(r.stderr, "logs -f "+idref.Short(id)) {
		t.Fatalf("submit --detach: want exit 0, the job's ID alone on stdout, what to do next on stderr\n%s", r)
	}
	waitState(t, home, client.dataDir, id, "completed")

	// Ctrl-C once the job runs: the submit stops following, the job goes on.
	cmd := exec.Command(meshnodeBin, via("--", "sleep", "2s")...)
	cmd.Env = testEnv(home)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var seen []string
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		seen = append(seen, sc.Text())
		if strings.Contains(sc.Text(), "running on") {
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	for sc.Scan() {
		seen = append(seen, sc.Text())
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != exitDetached {
		t.Fatalf("Ctrl-C: %v, want exit %d\n%s", err, exitDetached, strings.Join(seen, "\n"))
	}
	last := seen[len(seen)-1]
	if !strings.Contains(last, "goes on in the node") {
		t.Fatalf("Ctrl-C: want it to say the job goes on\n%s", strings.Join(seen, "\n"))
	}
	short := strings.Fields(strings.TrimPrefix(last, "interrupted: job "))[0]
	waitState(t, home, client.dataDir, short, "completed")

	// Ctrl-C during a --repeat batch: what was submitted goes on, and the
	// batch says so.
	cmd = exec.Command(meshnodeBin, via("--repeat", "20", "--parallel", "2", "--", "sleep", "1s")...)
	cmd.Env = testEnv(home)
	if stderr, err = cmd.StderrPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // some in flight (a load-proof check below needs none done)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	seen = nil
	for sc = bufio.NewScanner(stderr); sc.Scan(); {
		seen = append(seen, sc.Text())
	}
	err = cmd.Wait()
	if !errors.As(err, &exit) || exit.ExitCode() != exitDetached || !strings.Contains(strings.Join(seen, "\n"), "in flight go on in the node") {
		t.Fatalf("Ctrl-C during --repeat: %v, want exit %d saying the jobs in flight go on\n%s", err, exitDetached, strings.Join(seen, "\n"))
	}
}

// waitState polls job describe until the job is in state want.
func waitState(t *testing.T, home, dataDir, ref, want string) {
	t.Helper()
	var rec api.JobRecord
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		r := meshnode(t, home, "job", "describe", ref, "--json", "--data-dir", dataDir)
		if r.code == 0 && json.Unmarshal([]byte(r.stdout), &rec) == nil && string(rec.State) == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s: state %q, want %q\n%s", ref, rec.State, want, r)
		}
	}
}
