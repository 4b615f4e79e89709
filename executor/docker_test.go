package executor_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"

	"github.com/computemesh/computemesh/executor"
)

// These tests use the real Docker daemon (DOCKER_HOST or the local socket).
// Without one they are skipped, except under CI=true, where they fail. They
// never pull: the test image is built FROM scratch from a static Go binary
// (testdata/dockerjob), and its jobs run without network.

// dockerOwner scopes this test binary's containers (WithDockerOwner), so that
// its Janitor and leftover checks leave other processes' containers alone.
var dockerOwner = "test-" + dockerRandomHex(6)

func dockerRandomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// dockerClient returns a client of the daemon, skipping the test (failing it
// under CI=true) when none answers.
func dockerClient(tb testing.TB) *client.Client {
	tb.Helper()
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err = cli.Ping(ctx)
		cancel()
		if err != nil {
			cli.Close()
		}
	}
	if err != nil {
		msg := fmt.Sprintf("no Docker daemon answers (%v): Docker executor tests need one", err)
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	tb.Cleanup(func() { cli.Close() })
	return cli
}

// dockerJobBinary builds testdata/dockerjob as a static Linux binary, once
// per test binary.
var dockerJobBinary = sync.OnceValues(func() ([]byte, error) {
	dir, err := os.MkdirTemp("", "executor-dockerjob-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "dockerjob")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, ".")
	cmd.Dir = filepath.Join("testdata", "dockerjob")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build dockerjob: %w\n%s", err, msg)
	}
	return os.ReadFile(out)
})

// buildDockerJobImage builds the test image FROM scratch with the daemon's
// build API, tagged computemesh-test/dockerjob:<random>, and removes it at
// the end of tb.
func buildDockerJobImage(tb testing.TB, cli *client.Client) string {
	tb.Helper()
	bin, err := dockerJobBinary()
	if err != nil {
		tb.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	files := []struct {
		name string
		mode int64
		body []byte
	}{
		{"Dockerfile", 0o644, []byte("FROM scratch\nCOPY dockerjob /dockerjob\nENTRYPOINT [\"/dockerjob\"]\n")},
		{"dockerjob", 0o755, bin},
	}
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.body)), ModTime: time.Unix(0, 0)}); err != nil {
			tb.Fatal(err)
		}
		if _, err := tw.Write(f.body); err != nil {
			tb.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		tb.Fatal(err)
	}

	tag := "computemesh-test/dockerjob:" + dockerRandomHex(6)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	resp, err := cli.ImageBuild(ctx, &buf, build.ImageBuildOptions{
		Tags:        []string{tag},
		Dockerfile:  "Dockerfile",
		Remove:      true,
		ForceRemove: true,
		Labels:      map[string]string{"computemesh.test": "1"},
	})
	if err != nil {
		tb.Fatalf("build test image: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := cli.ImageRemove(ctx, tag, image.RemoveOptions{Force: true, PruneChildren: true}); err != nil {
			tb.Errorf("remove test image %s: %v", tag, err)
		}
	})
	var out bytes.Buffer
	_, err = out.ReadFrom(resp.Body)
	resp.Body.Close()
	if err != nil {
		tb.Fatalf("build test image: %v", err)
	}
	if strings.Contains(out.String(), `"error"`) {
		tb.Fatalf("build test image: %s", out.String())
	}
	if _, err := cli.ImageInspect(ctx, tag); err != nil {
		tb.Fatalf("test image %s not built: %v\n%s", tag, err, out.String())
	}
	return tag
}

// newDocker returns an executor owned by this test binary, closed at the end
// of tb.
func newDocker(tb testing.TB, opts ...executor.DockerOption) *executor.Docker {
	tb.Helper()
	opts = append([]executor.DockerOption{executor.WithDockerOwner(dockerOwner)}, opts...)
	d, err := executor.NewDocker(opts...)
	if err != nil {
		tb.Fatalf("NewDocker: %v", err)
	}
	tb.Cleanup(func() {
		if err := d.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return d
}

// ownedContainers lists this test binary's job containers, running or not.
func dockerOwnedContainers(tb testing.TB, cli *client.Client) []container.Summary {
	tb.Helper()
	list, err := cli.ContainerList(context.Background(), container.ListOptions{
		All: true,
		Filters: filters.NewArgs(
			filters.Arg("label", executor.DockerJobLabel+"=1"),
			filters.Arg("label", executor.DockerOwnerLabel+"="+dockerOwner),
		),
	})
	if err != nil {
		tb.Fatalf("list containers: %v", err)
	}
	return list
}

// dockerLogBuffer is a bytes.Buffer safe for concurrent use, noting when it was
// first written.
type dockerLogBuffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	first time.Time
}

func (b *dockerLogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.first.IsZero() {
		b.first = time.Now()
	}
	return b.buf.Write(p)
}

func (b *dockerLogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *dockerLogBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

func (b *dockerLogBuffer) First() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.first
}

// run runs task, failing tb on an error.
func dockerRun(tb testing.TB, d *executor.Docker, task executor.Task) executor.Result {
	tb.Helper()
	res, err := d.Run(context.Background(), task)
	if err != nil {
		tb.Fatalf("Run %v: %v", task.Args, err)
	}
	return res
}

func dockerWantExit(tb testing.TB, res executor.Result, code int) {
	tb.Helper()
	if res.ExitCode != code || res.TimedOut || res.MemoryExceeded {
		tb.Fatalf("exit %d, timed out %v, OOM %v, reason %q; want exit %d\nstdout: %q\nstderr: %q",
			res.ExitCode, res.TimedOut, res.MemoryExceeded, res.Reason, code, res.Stdout, res.Stderr)
	}
}

func TestDocker(t *testing.T) {
	cli := dockerClient(t)
	img := buildDockerJobImage(t, cli)
	d := newDocker(t)
	if err := d.Available(context.Background()); err != nil {
		t.Fatalf("Available: %v", err)
	}
	if d.Name() != "docker" {
		t.Errorf("Name() = %q", d.Name())
	}
	task := func(args ...string) executor.Task {
		return executor.Task{Image: img, Args: args, Timeout: 30 * time.Second}
	}

	t.Run("jobs", func(t *testing.T) {
		t.Run("hello", func(t *testing.T) {
			t.Parallel()
			if err := d.Validate(context.Background(), task("hello")); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			var logs dockerLogBuffer
			tk := task("hello")
			tk.Logs = &logs
			res := dockerRun(t, d, tk)
			dockerWantExit(t, res, 0)
			if got := string(res.Stdout); got != "hello from docker\n" {
				t.Errorf("stdout %q", got)
			}
			if len(res.Stderr) != 0 || res.Reason != "" || res.Duration <= 0 || res.GPUSeconds != 0 {
				t.Errorf("stderr %q, reason %q, duration %v, GPU seconds %v", res.Stderr, res.Reason, res.Duration, res.GPUSeconds)
			}
			if logs.String() != "hello from docker\n" {
				t.Errorf("logs %q", logs.String())
			}
		})
		t.Run("user", func(t *testing.T) {
			t.Parallel()
			res := dockerRun(t, d, task("whoami"))
			dockerWantExit(t, res, 0)
			if got := string(res.Stdout); got != "65534:65534\n" {
				t.Errorf("ran as %q, want nobody 65534:65534", got)
			}
		})
		t.Run("env", func(t *testing.T) {
			t.Parallel()
			tk := task("env")
			tk.Env = map[string]string{"X": "forty two", "Y": "other"}
			res := dockerRun(t, d, tk)
			dockerWantExit(t, res, 0)
			if got := string(res.Stdout); got != "forty two\n" {
				t.Errorf("stdout %q", got)
			}
		})
		t.Run("stdin", func(t *testing.T) {
			t.Parallel()
			in := make([]byte, 300<<10)
			rand.Read(in)
			tk := task("stdin")
			tk.Stdin = in
			res := dockerRun(t, d, tk)
			dockerWantExit(t, res, 0)
			if !bytes.Equal(res.Stdout, in) {
				t.Errorf("stdout: %d bytes, not the %d bytes of stdin", len(res.Stdout), len(in))
			}
		})
		t.Run("no stdin", func(t *testing.T) {
			t.Parallel()
			res := dockerRun(t, d, task("stdin"))
			dockerWantExit(t, res, 0)
			if len(res.Stdout) != 0 {
				t.Errorf("stdout %q", res.Stdout)
			}
		})
		t.Run("exit", func(t *testing.T) {
			t.Parallel()
			res := dockerRun(t, d, task("exit", "7"))
			dockerWantExit(t, res, 7)
			if res.Reason != "" {
				t.Errorf("reason %q", res.Reason)
			}
		})
		t.Run("stderr", func(t *testing.T) {
			t.Parallel()
			res := dockerRun(t, d, task("stderr"))
			dockerWantExit(t, res, 0)
			if string(res.Stderr) != "to stderr\n" || len(res.Stdout) != 0 {
				t.Errorf("stdout %q, stderr %q", res.Stdout, res.Stderr)
			}
		})
		t.Run("timeout", func(t *testing.T) {
			t.Parallel()
			// A grace of a minute: a run that ends sooner ended at SIGTERM,
			// not at the kill after the grace.
			const grace = time.Minute
			d := newDocker(t, executor.WithDockerStopGrace(grace))
			// A container's PID 1 ignores a SIGTERM that comes before its
			// program set its handlers: on a loaded machine the timeout
			// may come first (the job never said "ready"); again with
			// twice the timeout.
			for timeout := time.Second; ; timeout *= 2 {
				var logs dockerLogBuffer
				tk := task("ready-sleep", "3600s")
				tk.Timeout, tk.Logs = timeout, &logs
				start := time.Now()
				res := dockerRun(t, d, tk)
				elapsed := time.Since(start)
				if !res.TimedOut || res.ExitCode != executor.ExitCodeAbnormal || !strings.Contains(res.Reason, "timed out") {
					t.Fatalf("timed out %v, exit %d, reason %q", res.TimedOut, res.ExitCode, res.Reason)
				}
				if !strings.Contains(logs.String(), "ready") && timeout < 16*time.Second {
					continue
				}
				if elapsed >= grace {
					t.Errorf("took %v to stop: it waited for the kill after the %v grace", elapsed, grace)
				}
				break
			}
		})
		t.Run("ignore SIGTERM", func(t *testing.T) {
			t.Parallel()
			// The job must be ignoring SIGTERM when it comes at the
			// timeout; on a loaded machine it may not have started by
			// then (it dies at SIGTERM before saying so, and the run says
			// nothing of the grace): again with twice the timeout.
			for timeout := time.Second; ; timeout *= 2 {
				var logs dockerLogBuffer
				tk := task("ignore-term")
				tk.Timeout = timeout
				tk.Logs = &logs
				start := time.Now()
				res := dockerRun(t, d, tk)
				end := time.Now()
				elapsed := end.Sub(start)
				if !res.TimedOut || res.ExitCode != executor.ExitCodeAbnormal {
					t.Fatalf("timed out %v, exit %d, reason %q", res.TimedOut, res.ExitCode, res.Reason)
				}
				if len(res.Stdout) == 0 && timeout < time.Minute {
					t.Logf("the job did not ignore SIGTERM yet at the %v timeout: again with twice the timeout", timeout)
					continue
				}
				if string(res.Stdout) != "ignoring SIGTERM\n" {
					t.Errorf("stdout %q", res.Stdout)
				}
				// SIGTERM (at the timeout) was ignored: only SIGKILL, a
				// grace later, ended the run. Load only makes it later.
				grace := executor.DefaultDockerStopGrace
				if elapsed < timeout+grace {
					t.Errorf("stopped after %v: SIGTERM at the %v timeout, the %v grace was not given", elapsed, timeout, grace)
				}
				// Logs are live: written while the job ran (before
				// SIGTERM, a grace before its end), not at its end.
				if first := logs.First(); first.IsZero() || end.Sub(first) < grace/2 {
					t.Errorf("logs first written at %v, run ended at %v", first, end)
				}
				return
			}
		})
		t.Run("memory limit", func(t *testing.T) {
			t.Parallel()
			tk := task("alloc", "256")
			tk.MemoryBytes = 64 << 20
			res := dockerRun(t, d, tk)
			if !res.MemoryExceeded || res.Reason != "memory limit exceeded" || res.ExitCode != executor.ExitCodeAbnormal {
				t.Fatalf("OOM %v, reason %q, exit %d\nstdout %q\nstderr %q", res.MemoryExceeded, res.Reason, res.ExitCode, res.Stdout, res.Stderr)
			}
			if res.TimedOut {
				t.Errorf("timed out")
			}
		})
		t.Run("memory within limit", func(t *testing.T) {
			t.Parallel()
			tk := task("alloc", "16")
			tk.MemoryBytes = 64 << 20
			res := dockerRun(t, d, tk)
			dockerWantExit(t, res, 0)
			if string(res.Stdout) != "allocated 16\n" {
				t.Errorf("stdout %q", res.Stdout)
			}
		})
		t.Run("no network", func(t *testing.T) {
			t.Parallel()
			// Network is false: NetworkMode none, so the dial fails at
			// once without a packet leaving. Never run "net" with Network.
			res := dockerRun(t, d, task("net"))
			dockerWantExit(t, res, 0)
			if !strings.HasPrefix(string(res.Stdout), "fail:") {
				t.Errorf("dial from a container without network: %q", res.Stdout)
			}
		})
		t.Run("network refused", func(t *testing.T) {
			t.Parallel()
			tk := task("hello")
			tk.Network = true
			for name, err := range map[string]error{
				"Validate": d.Validate(context.Background(), tk),
				"Run":      func() error { _, err := d.Run(context.Background(), tk); return err }(),
			} {
				if !errors.Is(err, executor.ErrNetworkNotAllowed) || !errors.Is(err, executor.ErrInvalidTask) {
					t.Errorf("%s with Network and no WithAllowNetwork: %v", name, err)
				}
			}
		})
		t.Run("read-only rootfs", func(t *testing.T) {
			t.Parallel()
			res := dockerRun(t, d, task("readonly"))
			dockerWantExit(t, res, 0)
			lines := strings.Split(string(res.Stdout), "\n")
			if len(lines) < 2 || !strings.HasPrefix(lines[0], "fail:") || lines[1] != "tmp ok" {
				t.Errorf("stdout %q: want a failed write to /etc and a good one to /tmp", res.Stdout)
			}
		})
		t.Run("inputs and outputs", func(t *testing.T) {
			t.Parallel()
			in, out := t.TempDir(), t.TempDir()
			if err := os.WriteFile(filepath.Join(in, "in.txt"), []byte("input data\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(out, 0o777); err != nil { // the job runs as nobody
				t.Fatal(err)
			}
			tk := task("write")
			tk.InputsDir, tk.OutputsDir = in, out
			res := dockerRun(t, d, tk)
			dockerWantExit(t, res, 0)
			got, err := os.ReadFile(filepath.Join(out, "out.txt"))
			if err != nil || string(got) != "written by the job\n" {
				t.Errorf("outputs/out.txt: %q, %v", got, err)
			}
			lines := strings.Split(string(res.Stdout), "\n")
			if len(lines) < 2 || lines[0] != "read input: input data" || !strings.HasPrefix(lines[1], "inputs write fail:") {
				t.Errorf("stdout %q: want the input read and a failed write to /inputs", res.Stdout)
			}
			if _, err := os.Stat(filepath.Join(in, "x")); err == nil {
				t.Errorf("the job wrote to the inputs dir")
			}
		})
		t.Run("output cap", func(t *testing.T) {
			t.Parallel()
			const n = 3 << 20
			var logs dockerLogBuffer
			tk := task("spam", fmt.Sprint(n))
			tk.MaxOutput = 1000
			tk.Logs = &logs
			res := dockerRun(t, d, tk)
			dockerWantExit(t, res, 0)
			if len(res.Stdout) != 1000 || len(res.Stderr) != 1000 || !res.StdoutTruncated || !res.StderrTruncated {
				t.Fatalf("stdout %d bytes (truncated %v), stderr %d bytes (truncated %v)",
					len(res.Stdout), res.StdoutTruncated, len(res.Stderr), res.StderrTruncated)
			}
			if string(res.Stdout) != strings.Repeat("o", 1000) || string(res.Stderr) != strings.Repeat("e", 1000) {
				t.Errorf("streams mixed up")
			}
			if logs.Len() != 2*n {
				t.Errorf("live logs got %d bytes, want all %d", logs.Len(), 2*n)
			}
		})
		t.Run("default cap not hit", func(t *testing.T) {
			t.Parallel()
			res := dockerRun(t, d, task("spam", "1000"))
			dockerWantExit(t, res, 0)
			if len(res.Stdout) != 1000 || res.StdoutTruncated || res.StderrTruncated {
				t.Errorf("stdout %d bytes, truncated %v/%v", len(res.Stdout), res.StdoutTruncated, res.StderrTruncated)
			}
		})
		t.Run("cancel", func(t *testing.T) {
			t.Parallel()
			// As for the timeout: a minute's grace, which the run must not
			// wait for.
			const grace = time.Minute
			d := newDocker(t, executor.WithDockerStopGrace(grace))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			// Cancelled once the job runs: a container's PID 1 ignores a
			// SIGTERM that comes before its program set its handlers (a
			// slow start on a loaded machine).
			var logs dockerLogBuffer
			tk := task("ready-sleep", "3600s")
			tk.Logs = &logs
			go func() {
				for !strings.Contains(logs.String(), "ready") && ctx.Err() == nil {
					time.Sleep(20 * time.Millisecond)
				}
				cancel()
			}()
			start := time.Now()
			res, err := d.Run(ctx, tk)
			elapsed := time.Since(start)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Run with a cancelled context: %v", err)
			}
			if res.Reason != "cancelled" || res.ExitCode != executor.ExitCodeAbnormal || res.TimedOut {
				t.Errorf("reason %q, exit %d, timed out %v", res.Reason, res.ExitCode, res.TimedOut)
			}
			if elapsed >= grace {
				t.Errorf("took %v: it waited for the kill after the %v grace", elapsed, grace)
			}
		})
		t.Run("cpu seconds", func(t *testing.T) {
			t.Parallel()
			tk := task("spin", "3s")
			tk.CPUMillis, tk.Timeout = 1000, 2*time.Minute // 3 s of CPU may take long on a loaded machine
			res := dockerRun(t, d, tk)
			dockerWantExit(t, res, 0)
			// The job uses 3 s of CPU however loaded the machine; the
			// executor samples about once a second: a lower bound, at most
			// the run's time at one core.
			if res.CPUSeconds < 0.5 || res.CPUSeconds > res.Duration.Seconds()+0.5 {
				t.Errorf("CPU seconds %.3f for 3 s of CPU spinning (duration %v)", res.CPUSeconds, res.Duration)
			}
			t.Logf("CPU seconds %.3f, duration %v", res.CPUSeconds, res.Duration)
		})
		t.Run("missing image", func(t *testing.T) {
			t.Parallel()
			missing := "computemesh-test/absent:" + dockerRandomHex(6)
			tk := task("hello")
			tk.Image = missing
			err := d.Validate(context.Background(), tk)
			if !errors.Is(err, executor.ErrImageNotPresent) || !errors.Is(err, executor.ErrInvalidTask) ||
				!strings.Contains(err.Error(), "image "+missing+" is not present and pulling is off") {
				t.Fatalf("Validate: %v", err)
			}
			if _, err := d.Run(context.Background(), tk); !errors.Is(err, executor.ErrImageNotPresent) {
				t.Errorf("Run: %v", err)
			}
		})
		t.Run("gpus", func(t *testing.T) {
			t.Parallel()
			tk := task("hello")
			tk.GPUs = 1
			res, err := d.Run(context.Background(), tk)
			if err != nil {
				// No NVIDIA runtime on this daemon: the request is refused
				// at create or start, and nothing is left behind.
				t.Logf("no GPU here: %v", err)
				if !strings.Contains(strings.ToLower(err.Error()), "nvidia") && !strings.Contains(err.Error(), "device driver") {
					t.Errorf("GPU refusal does not say why: %v", err)
				}
				return
			}
			dockerWantExit(t, res, 0)
			if res.GPUSeconds != res.Duration.Seconds() {
				t.Errorf("GPU seconds %v, duration %v", res.GPUSeconds, res.Duration)
			}
		})
	})

	t.Run("close stops runs", func(t *testing.T) {
		d2, err := executor.NewDocker(executor.WithDockerOwner(dockerOwner))
		if err != nil {
			t.Fatal(err)
		}
		time.AfterFunc(time.Second, func() { d2.Close() })
		res, err := d2.Run(context.Background(), task("sleep", "60s"))
		if !errors.Is(err, executor.ErrClosed) || res.Reason != "executor closed" {
			t.Fatalf("Run during Close: %v, reason %q", err, res.Reason)
		}
		if _, err := d2.Run(context.Background(), task("hello")); !errors.Is(err, executor.ErrClosed) {
			t.Errorf("Run after Close: %v", err)
		}
		if err := d2.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})

	t.Run("no leftovers", func(t *testing.T) {
		if left := dockerOwnedContainers(t, cli); len(left) != 0 {
			t.Fatalf("%d job containers left after the runs: %v", len(left), left)
		}
	})

	t.Run("janitor", func(t *testing.T) {
		ctx := context.Background()
		leak := func(owner string) string {
			created, err := cli.ContainerCreate(ctx,
				&container.Config{Image: img, Cmd: []string{"hello"}, Labels: map[string]string{
					executor.DockerJobLabel: "1", executor.DockerOwnerLabel: owner,
				}},
				&container.HostConfig{NetworkMode: "none"}, nil, nil, "")
			if err != nil {
				t.Fatalf("leak a container: %v", err)
			}
			return created.ID
		}
		mine := leak(dockerOwner)
		other := leak("other-" + dockerRandomHex(6))
		t.Cleanup(func() {
			cli.ContainerRemove(context.Background(), other, container.RemoveOptions{Force: true})
		})
		if err := cli.ContainerStart(ctx, mine, container.StartOptions{}); err != nil {
			t.Fatal(err)
		}
		n, err := d.Janitor(ctx)
		if err != nil || n != 1 {
			t.Fatalf("Janitor: removed %d, %v; want 1", n, err)
		}
		if left := dockerOwnedContainers(t, cli); len(left) != 0 {
			t.Errorf("Janitor left %d containers", len(left))
		}
		if _, err := cli.ContainerInspect(ctx, other); err != nil {
			t.Errorf("Janitor removed another owner's container: %v", err)
		}
	})
}

// TestDockerCheckTask needs no daemon: options and field checks come first.
func TestDockerCheckTask(t *testing.T) {
	for _, o := range []executor.DockerOption{
		executor.WithDockerHost(""), executor.WithDockerOwner("a=b"), executor.WithDockerUser(""),
		executor.WithDockerStopGrace(-time.Second),
	} {
		if _, err := executor.NewDocker(o); err == nil {
			t.Errorf("NewDocker accepted a bad option")
		}
	}
	d := newDocker(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for name, tk := range map[string]executor.Task{
		"image":        {},
		"image space":  {Image: "a b"},
		"args NUL":     {Image: "x", Args: []string{"a\x00"}},
		"entry NUL":    {Image: "x", Entrypoint: []string{"a\x00"}},
		"env name":     {Image: "x", Env: map[string]string{"A=B": "1"}},
		"env value":    {Image: "x", Env: map[string]string{"A": "\x00"}},
		"timeout":      {Image: "x", Timeout: -1},
		"cpu":          {Image: "x", CPUMillis: 5},
		"cpu negative": {Image: "x", CPUMillis: -1},
		"memory":       {Image: "x", MemoryBytes: 1 << 20},
		"gpus":         {Image: "x", GPUs: -1},
		"max output":   {Image: "x", MaxOutput: -1},
		"network":      {Image: "x", Network: true},
		"inputs rel":   {Image: "x", InputsDir: "rel"},
		"inputs gone":  {Image: "x", InputsDir: filepath.Join(dir, "gone")},
		"outputs file": {Image: "x", OutputsDir: file},
	} {
		err := d.Validate(context.Background(), tk)
		if !errors.Is(err, executor.ErrInvalidTask) {
			t.Errorf("%s: Validate: %v, want ErrInvalidTask", name, err)
		}
		if _, err := d.Run(context.Background(), tk); !errors.Is(err, executor.ErrInvalidTask) {
			t.Errorf("%s: Run: %v, want ErrInvalidTask", name, err)
		}
	}
}

// BenchmarkDockerTrivial measures one run of "hello": image check, create,
// attach, start, exit, inspect and removal.
func BenchmarkDockerTrivial(b *testing.B) {
	cli := dockerClient(b)
	img := buildDockerJobImage(b, cli)
	d := newDocker(b)
	tk := executor.Task{Image: img, Args: []string{"hello"}, Timeout: 30 * time.Second}
	for b.Loop() {
		res, err := d.Run(context.Background(), tk)
		if err != nil || res.ExitCode != 0 {
			b.Fatalf("run: %v, exit %d", err, res.ExitCode)
		}
	}
}
