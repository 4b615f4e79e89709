//go:build linux

package executor_test

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/computemesh/computemesh/executor"
)

// These tests attack the exec executor's confinement with real processes:
// a "data dir" standing in for the provider's (its identity.key and
// api.token, the work root beneath it as the node has it) must stay out of
// reach of allowlisted commands.

// attackBuild builds testdata/execattack, once per test binary.
var attackBuild = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "executor-attack-")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil { // runnable by any user
		return "", err
	}
	out := filepath.Join(dir, "execattack")
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = filepath.Join("testdata", "execattack")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build execattack: %w\n%s", err, msg)
	}
	return out, nil
})

func attackBinary(tb testing.TB) string {
	tb.Helper()
	p, err := attackBuild()
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// confinedExec returns an exec executor that confines its commands, with
// its work root in a fresh data dir holding secrets; it skips the test
// where confinement is not available.
func confinedExec(tb testing.TB, allow []string, opts ...executor.ExecOption) (e *executor.Exec, dataDir string) {
	tb.Helper()
	dataDir = tb.TempDir()
	for name, secret := range map[string]string{"identity.key": "SECRET-IDENTITY", "api.token": "SECRET-TOKEN"} {
		if err := os.WriteFile(filepath.Join(dataDir, name), []byte(secret), 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	e = newExec(tb, allow, append([]executor.ExecOption{executor.WithExecWorkRoot(filepath.Join(dataDir, "exec"))}, opts...)...)
	if c := e.Confinement(); !c.Confined() {
		tb.Skipf("exec confinement not available here: %s", c.Reason)
	}
	return e, dataDir
}

// wantRefused checks that a run failed without leaking a secret.
func wantRefused(tb testing.TB, res executor.Result) {
	tb.Helper()
	out := string(res.Stdout) + string(res.Stderr)
	if res.ExitCode == 0 || strings.Contains(out, "SECRET") || strings.Contains(out, "ESCAPED") {
		tb.Errorf("not refused: exit %d\nstdout %q\nstderr %q", res.ExitCode, res.Stdout, res.Stderr)
	}
	tb.Logf("refused: exit %d: %s", res.ExitCode, bytes.TrimSpace(append(res.Stdout, res.Stderr...)))
}

func TestExecConfinedFiles(t *testing.T) {
	t.Parallel()
	cmds := []string{"/bin/sh", "/bin/cat", "/bin/ls", "/bin/ln", "/bin/mv"}
	e, data := confinedExec(t, cmds)
	t.Logf("confinement: %s", e.Confinement())
	key := filepath.Join(data, "identity.key")
	nodePID := strconv.Itoa(os.Getpid()) // this test stands in for the node
	for _, tc := range []struct {
		name    string
		command string
		args    []string
		planted string // a path that must not exist afterwards
	}{
		{"cat identity.key", "/bin/cat", []string{key}, ""},
		{"cat api.token", "/bin/cat", []string{filepath.Join(data, "api.token")}, ""},
		{"relative path from the work dir", "/bin/sh", []string{"-c", "cat ../../identity.key"}, ""},
		{"list the data dir", "/bin/ls", []string{data}, ""},
		{"cat /etc/shadow", "/bin/cat", []string{"/etc/shadow"}, ""},
		{"node's environ", "/bin/cat", []string{"/proc/" + nodePID + "/environ"}, ""},
		{"node's memory maps", "/bin/cat", []string{"/proc/" + nodePID + "/maps"}, ""},
		{"write into the data dir", "/bin/sh", []string{"-c", "echo x > " + filepath.Join(data, "planted")}, filepath.Join(data, "planted")},
		{"write into /tmp", "/bin/sh", []string{"-c", "echo x > /tmp/computemesh-planted-" + nodePID}, "/tmp/computemesh-planted-" + nodePID},
		{"hard link into outputs", "/bin/ln", []string{key, "OUT/k"}, "OUT/k"},
		{"symbolic link in outputs", "/bin/ln", []string{"-s", key, "OUT/k"}, "OUT/k"},
		{"move a host file into outputs", "/bin/mv", []string{key, "OUT/k"}, "OUT/k"},
		{"hard link into the work dir", "/bin/sh", []string{"-c", "ln " + key + " k && cat k"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "cat /etc/shadow" {
				if _, err := os.ReadFile("/etc/shadow"); err != nil {
					t.Skipf("/etc/shadow is not readable by this test either: %v", err)
				}
			}
			out := t.TempDir()
			fix := func(s string) string { return strings.Replace(s, "OUT", out, 1) }
			args := make([]string, len(tc.args))
			for i, a := range tc.args {
				args[i] = fix(a)
			}
			res := execRun(t, e, executor.Task{Command: tc.command, Args: args, OutputsDir: out, Timeout: 30 * time.Second})
			wantRefused(t, res)
			if tc.planted != "" {
				if _, err := os.Lstat(fix(tc.planted)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s exists after the run (%v)", fix(tc.planted), err)
				}
			}
			if b, err := os.ReadFile(key); err != nil || string(b) != "SECRET-IDENTITY" {
				t.Errorf("identity.key after the run: %q, %v", b, err)
			}
		})
	}
}

func TestExecConfinedProcesses(t *testing.T) {
	t.Parallel()
	attack := attackBinary(t)
	e, data := confinedExec(t, []string{attack})
	nodePID := strconv.Itoa(os.Getpid())

	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	sock := filepath.Join(data, "daemon.sock") // stands in for the Docker daemon's, a session bus…
	unixL, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer unixL.Close()
	abstract, err := net.Listen("unix", "@computemesh-test-"+nodePID)
	if err != nil {
		t.Fatal(err)
	}
	defer abstract.Close()

	for _, tc := range []struct {
		name string
		args []string
	}{
		{"connect to 127.0.0.1", []string{"tcp", tcp.Addr().String()}},
		{"connect to a Unix socket", []string{"unix", sock}},
		{"connect to an abstract Unix socket", []string{"unix", "@computemesh-test-" + nodePID}},
		{"signal the node", []string{"kill", nodePID}},
		{"trace the node", []string{"ptrace", nodePID}},
		{"io_uring", []string{"io_uring"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "signal the node" && e.Confinement().Landlock < 6 {
				t.Skip("Landlock ABI < 6 does not scope signals: the job can signal the node's user's processes")
			}
			res := execRun(t, e, executor.Task{Command: attack, Args: tc.args, MemoryBytes: 1 << 30, Timeout: 30 * time.Second})
			wantRefused(t, res)
			if !bytes.HasPrefix(res.Stdout, []byte("refused:")) {
				t.Errorf("stdout %q, stderr %q: want the attack to run and be refused", res.Stdout, res.Stderr)
			}
		})
	}
}

// With the owner's leave and the task asking, a command has the network:
// the attacks above fail for the confinement, not for the test.
func TestExecNetwork(t *testing.T) {
	t.Parallel()
	attack := attackBinary(t)
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	task := executor.Task{Command: attack, Args: []string{"tcp", tcp.Addr().String()}, MemoryBytes: 1 << 30, Network: true}

	e, _ := confinedExec(t, []string{attack})
	if err := e.Validate(t.Context(), task); !errors.Is(err, executor.ErrInvalidTask) || !strings.Contains(err.Error(), "network:") {
		t.Errorf("Validate of a task asking for network, not allowed: %v", err)
	}

	e, data := confinedExec(t, []string{attack}, executor.WithExecNetwork(true))
	res := execRun(t, e, task)
	if res.ExitCode != 0 || string(res.Stdout) != "ESCAPED\n" {
		t.Errorf("with network: exit %d, stdout %q, stderr %q", res.ExitCode, res.Stdout, res.Stderr)
	}
	// Still no Unix sockets, and still no files.
	for _, args := range [][]string{{"unix", "@computemesh-none"}, {"read", filepath.Join(data, "identity.key")}} {
		task.Args = args
		wantRefused(t, execRun(t, e, task))
	}
	// Without asking, no network.
	task.Network, task.Args = false, []string{"tcp", tcp.Addr().String()}
	wantRefused(t, execRun(t, e, task))
}

func TestExecEnvPolicy(t *testing.T) {
	t.Parallel()
	e := newExec(t, []string{"/bin/sh"}, executor.WithExecEnv("MYAPP_*", "SEED"))
	for _, name := range []string{
		"LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "GCONV_PATH", "GLIBC_TUNABLES", "LOCPATH", "NLSPATH",
		"MALLOC_CHECK_", "HOSTALIASES", "RES_OPTIONS", "LOCALDOMAIN", "BASH_ENV", "ENV", "SHELLOPTS",
		"BASH_FUNC_f%%", "PYTHONPATH", "PYTHONSTARTUP", "PYTHONHOME", "PERL5LIB", "PERL5OPT", "RUBYOPT",
		"NODE_OPTIONS", "JAVA_TOOL_OPTIONS", "OPENSSL_CONF", "GIT_SSH_COMMAND",
		"UNLISTED", // not denied, but not in the allowlist
	} {
		out := t.TempDir()
		task := sh(`echo ran > "$COMPUTEMESH_OUTPUTS/ran"`)
		task.OutputsDir, task.Env = out, map[string]string{"SEED": "1", name: "/x"}
		for op, err := range map[string]error{
			"Validate": e.Validate(t.Context(), task),
			"Run":      func() error { _, err := e.Run(t.Context(), task); return err }(),
		} {
			if !errors.Is(err, executor.ErrEnvNotAllowed) || !errors.Is(err, executor.ErrInvalidTask) ||
				!strings.Contains(err.Error(), "env: "+name+" is not allowed") {
				t.Errorf("%s with %s: %v, want ErrEnvNotAllowed naming it", op, name, err)
			}
		}
		if _, err := os.Stat(filepath.Join(out, "ran")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the command ran despite %s", name)
		}
	}
	// The defaults and the owner's names pass.
	task := sh(`echo "$SEED $MYAPP_MODE $JOB_N $LC_ALL"`)
	task.Env = map[string]string{"SEED": "1", "MYAPP_MODE": "fast", "JOB_N": "3", "LC_ALL": "C"}
	res := execRun(t, e, task)
	execWantExit(t, res, 0)
	if string(res.Stdout) != "1 fast 3 C\n" {
		t.Errorf("stdout %q", res.Stdout)
	}
}

// An honest job still works confined: it reads its inputs, writes its
// outputs (renaming and linking from its work dir), uses TMPDIR, /dev/null
// and the system's programs.
func TestExecConfinedHonestJob(t *testing.T) {
	t.Parallel()
	e, _ := confinedExec(t, []string{"/bin/sh"})
	in, out := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(in, "in.txt"), []byte("b\na\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	task := sh(`set -e
t=$(mktemp); sort "$COMPUTEMESH_INPUTS/in.txt" > "$t"; cat "$t"
echo noise > /dev/null; head -c 4 /dev/urandom | wc -c
mkdir -p "$COMPUTEMESH_OUTPUTS/d"; cp "$t" "$COMPUTEMESH_OUTPUTS/d/sorted"
echo moved > m; mv m "$COMPUTEMESH_OUTPUTS/moved"
echo linked > l; ln l "$COMPUTEMESH_OUTPUTS/linked"
date +%Y > /dev/null; ls /usr/bin > /dev/null; id -u > /dev/null`)
	task.InputsDir, task.OutputsDir = in, out
	res := execRun(t, e, task)
	execWantExit(t, res, 0)
	if string(res.Stdout) != "a\nb\n4\n" {
		t.Errorf("stdout %q, stderr %q", res.Stdout, res.Stderr)
	}
	for name, want := range map[string]string{"d/sorted": "a\nb\n", "moved": "moved\n", "linked": "linked\n"} {
		if b, err := os.ReadFile(filepath.Join(out, name)); err != nil || string(b) != want {
			t.Errorf("outputs/%s: %q, %v", name, b, err)
		}
	}
	// An input cannot be written.
	res = execRun(t, e, executor.Task{Command: "/bin/sh", Args: []string{"-c", `echo x >> "$COMPUTEMESH_INPUTS/in.txt"`}, InputsDir: in})
	wantRefused(t, res)
}

// A node running as root gives its commands no capabilities.
func TestExecConfinedRootHasNoCapabilities(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("not root")
	}
	e, _ := confinedExec(t, []string{"/bin/sh"})
	res := execRun(t, e, sh(`touch f; chmod 600 f && echo chmod ok; chown 12345 f && echo chown ok`))
	if string(res.Stdout) != "chmod ok\n" || !strings.Contains(string(res.Stderr), "not permitted") {
		t.Errorf("stdout %q, stderr %q: want chmod to work and chown (CAP_CHOWN) to fail", res.Stdout, res.Stderr)
	}
}
