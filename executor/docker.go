package executor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
)

var _ Executor = (*Docker)(nil)

// Labels set on every container the Docker executor creates.
const (
	// DockerJobLabel is set to "1" on every job container; Janitor removes
	// the containers that carry it.
	DockerJobLabel = "computemesh.job"
	// DockerRunLabel holds a random ID per run (also in the container's
	// name, "computemesh-<id>").
	DockerRunLabel = "computemesh.run"
	// DockerOwnerLabel holds the owner set with WithDockerOwner, if any, so
	// that Janitor leaves the containers of other owners (e.g. another node
	// on the same daemon) alone.
	DockerOwnerLabel = "computemesh.owner"
)

// Sandbox settings and defaults of the Docker executor.
const (
	// DockerUser is the user jobs run as unless WithDockerUser says
	// otherwise: nobody:nogroup. An OutputsDir must be writable by it.
	DockerUser = "65534:65534"
	// DockerPidsLimit bounds the processes and threads of a job.
	DockerPidsLimit = 256
	// DockerTmpfsBytes is the size of the tmpfs mounted at /tmp (counted
	// against the job's memory limit as it fills).
	DockerTmpfsBytes = 64 << 20
	// DefaultDockerCPUMillis is the CPU quota of a task with CPUMillis 0:
	// one core.
	DefaultDockerCPUMillis = 1000
	// MinDockerCPUMillis is the smallest CPU quota Docker accepts (0.01).
	MinDockerCPUMillis = 10
	// MinDockerMemoryBytes is the smallest memory limit Docker accepts.
	MinDockerMemoryBytes = 6 << 20
	// DefaultDockerStopGrace is how long a stopped job has between SIGTERM
	// and SIGKILL.
	DefaultDockerStopGrace = 2 * time.Second
	// DockerInputsPath and DockerOutputsPath are where InputsDir and
	// OutputsDir appear in the container.
	DockerInputsPath  = "/inputs"
	DockerOutputsPath = "/outputs"
)

// Errors of the Docker executor; test with errors.Is. Both also match
// ErrInvalidTask.
var (
	// ErrImageNotPresent: the task's image is not in the daemon's image
	// store and pulling is off (WithAllowPull).
	ErrImageNotPresent = errors.New("image not present")
	// ErrNetworkNotAllowed: the task asks for network access and the owner
	// did not allow it (WithAllowNetwork).
	ErrNetworkNotAllowed = errors.New("network access not allowed")
)

// Docker is the container Executor: it runs Tasks with an Image on a Docker
// daemon through the Engine API, each in a fresh, locked-down container that is
// always removed afterwards. It is safe for concurrent use. Create it with
// NewDocker and Close it when done.
//
// Every container runs with a read-only root file system, a size-limited
// tmpfs at /tmp (noexec, nosuid, nodev), all capabilities dropped,
// no-new-privileges, a PID limit (DockerPidsLimit), an open-files limit,
// the "none" logging driver (output reaches the executor through attach
// only and is never stored by the daemon), no network unless allowed and
// asked, as DockerUser, with the task's CPU, memory (swap equal to memory)
// and GPU limits.
type Docker struct {
	cfg dockerConfig
	cli *client.Client

	// base is cancelled by Close, which stops the runs in flight.
	base   context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	closed bool
}

type dockerConfig struct {
	host         string
	allowPull    bool
	allowNetwork bool
	owner        string
	user         string
	stopGrace    time.Duration
}

// DockerOption configures NewDocker.
type DockerOption func(*dockerConfig) error

// WithDockerHost sets the daemon's address (e.g. "unix:///var/run/docker.sock"
// or "tcp://127.0.0.1:2375"); the default comes from the environment
// (DOCKER_HOST and friends), else the local socket.
func WithDockerHost(host string) DockerOption {
	return func(c *dockerConfig) error {
		if host == "" {
			return errors.New("docker host: empty")
		}
		c.host = host
		return nil
	}
}

// WithAllowPull lets Run pull an image that is not present locally
// (default false: such a task is refused with ErrImageNotPresent).
func WithAllowPull(allow bool) DockerOption {
	return func(c *dockerConfig) error { c.allowPull = allow; return nil }
}

// WithAllowNetwork lets tasks that ask for it have network access (default
// false: such a task is refused with ErrNetworkNotAllowed). Tasks that do not
// ask never get it.
func WithAllowNetwork(allow bool) DockerOption {
	return func(c *dockerConfig) error { c.allowNetwork = allow; return nil }
}

// WithDockerOwner labels this executor's containers with DockerOwnerLabel=owner
// and makes Janitor remove only those. Without it Janitor removes every job
// container on the daemon.
func WithDockerOwner(owner string) DockerOption {
	return func(c *dockerConfig) error {
		if owner == "" || strings.ContainsAny(owner, "=,\x00") {
			return fmt.Errorf("docker owner: %q, must be non-empty without '=', ',' or NUL", owner)
		}
		c.owner = owner
		return nil
	}
}

// WithDockerUser sets the user ("uid:gid" or a name the image knows) jobs
// run as; the default is DockerUser (nobody).
func WithDockerUser(user string) DockerOption {
	return func(c *dockerConfig) error {
		if user == "" || strings.ContainsRune(user, 0) {
			return fmt.Errorf("docker user: %q is not a user", user)
		}
		c.user = user
		return nil
	}
}

// WithDockerStopGrace sets how long a stopped container has between SIGTERM
// and SIGKILL (default DefaultDockerStopGrace), in whole seconds rounded up;
// 0 kills at once.
func WithDockerStopGrace(d time.Duration) DockerOption {
	return func(c *dockerConfig) error {
		if d < 0 {
			return fmt.Errorf("docker stop grace: %v is negative", d)
		}
		c.stopGrace = d
		return nil
	}
}

// NewDocker returns a Docker executor. It does not contact the daemon: see
// Available. The client negotiates the API version with the daemon on first
// use, so older daemons (e.g. Docker 20.10, API 1.41) work.
func NewDocker(opts ...DockerOption) (*Docker, error) {
	cfg := dockerConfig{user: DockerUser, stopGrace: DefaultDockerStopGrace}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, fmt.Errorf("docker executor: %w", err)
		}
	}
	copts := []client.Opt{client.FromEnv, client.WithAPIVersionNegotiation()}
	if cfg.host != "" {
		copts = append(copts, client.WithHost(cfg.host))
	}
	cli, err := client.NewClientWithOpts(copts...)
	if err != nil {
		return nil, fmt.Errorf("docker executor: %w", err)
	}
	base, cancel := context.WithCancel(context.Background())
	return &Docker{cfg: cfg, cli: cli, base: base, cancel: cancel}, nil
}

// Name returns "docker".
func (d *Docker) Name() string { return "docker" }

// Available pings the daemon: nil when it answers.
func (d *Docker) Available(ctx context.Context) error {
	if _, err := d.cli.Ping(ctx); err != nil {
		return fmt.Errorf("docker: daemon at %s does not answer: %w", d.cli.DaemonHost(), err)
	}
	return nil
}

// Close stops the runs in flight (they return ErrClosed once their container
// is stopped and removed), waits for them and closes the client. It is safe
// to call more than once.
func (d *Docker) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	d.cancel()
	d.mu.Unlock()
	d.wg.Wait()
	return d.cli.Close()
}

// enter registers a run; it fails once Close has been called.
func (d *Docker) enter() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return ErrClosed
	}
	d.wg.Add(1)
	return nil
}

// Validate checks t without running it: its fields (names the field), the
// owner's network policy (ErrNetworkNotAllowed), and that its image is
// present locally (ErrImageNotPresent) unless pulling is allowed. Errors
// about the task match ErrInvalidTask; an error talking to the daemon does
// not.
func (d *Docker) Validate(ctx context.Context, t Task) error {
	if err := d.checkTask(&t); err != nil {
		return err
	}
	_, err := d.imagePresent(ctx, t.Image)
	return err
}

// checkTask refuses what cannot run, naming the field.
func (d *Docker) checkTask(t *Task) error {
	if t.Image == "" {
		return invalidTaskKind(nil, "image: empty")
	}
	if strings.ContainsFunc(t.Image, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return invalidTaskKind(nil, "image: %q contains white space or control characters", t.Image)
	}
	if err := refuseFields("docker", t, "module", "module key", "name", "deterministic", "command"); err != nil {
		return err
	}
	for name, args := range map[string][]string{"args": t.Args, "entrypoint": t.Entrypoint} {
		for i, a := range args {
			if strings.ContainsRune(a, 0) {
				return invalidTaskKind(nil, "%s[%d]: contains a NUL byte", name, i)
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(t.Env)) {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return invalidTaskKind(nil, "env: invalid variable name %q", k)
		}
		if strings.ContainsRune(t.Env[k], 0) {
			return invalidTaskKind(nil, "env: value of %s contains a NUL byte", k)
		}
	}
	switch {
	case t.Timeout < 0:
		return invalidTaskKind(nil, "timeout: %v is negative", t.Timeout)
	case t.CPUMillis < 0 || (t.CPUMillis > 0 && t.CPUMillis < MinDockerCPUMillis):
		return invalidTaskKind(nil, "cpu: %d millicores, must be 0 (default) or at least %d", t.CPUMillis, MinDockerCPUMillis)
	case t.CPUMillis > math.MaxInt64/1_000_000:
		return invalidTaskKind(nil, "cpu: %d millicores is too many", t.CPUMillis)
	case t.MemoryBytes > 0 && t.MemoryBytes < MinDockerMemoryBytes:
		return invalidTaskKind(nil, "memory: %d bytes, must be 0 (default) or at least %d (6 MiB)", t.MemoryBytes, MinDockerMemoryBytes)
	case t.MemoryBytes > math.MaxInt64:
		return invalidTaskKind(nil, "memory: %d bytes is too many", t.MemoryBytes)
	case t.GPUs < 0:
		return invalidTaskKind(nil, "gpus: %d is negative", t.GPUs)
	case t.MaxOutput < 0:
		return invalidTaskKind(nil, "max output: %d is negative", t.MaxOutput)
	case t.Network && !d.cfg.allowNetwork:
		return invalidTaskKind(ErrNetworkNotAllowed, "network: the task asks for network access and this provider does not allow it")
	}
	for name, dir := range map[string]string{"inputs dir": t.InputsDir, "outputs dir": t.OutputsDir} {
		if dir == "" {
			continue
		}
		if !filepath.IsAbs(dir) || strings.ContainsAny(dir, ",\x00") {
			return invalidTaskKind(nil, "%s: %q must be an absolute path without ',' or NUL", name, dir)
		}
		fi, err := os.Stat(dir)
		if err != nil {
			return invalidTaskKind(nil, "%s: %v", name, err)
		}
		if !fi.IsDir() {
			return invalidTaskKind(nil, "%s: %s is not a directory", name, dir)
		}
	}
	return nil
}

// imagePresent reports whether ref is in the daemon's image store. When it
// is not, it returns ErrImageNotPresent unless pulling is allowed.
func (d *Docker) imagePresent(ctx context.Context, ref string) (bool, error) {
	_, err := d.cli.ImageInspect(ctx, ref)
	switch {
	case err == nil:
		return true, nil
	case cerrdefs.IsNotFound(err) && d.cfg.allowPull:
		return false, nil
	case cerrdefs.IsNotFound(err):
		return false, invalidTaskKind(ErrImageNotPresent, "image %s is not present and pulling is off", ref)
	default:
		return false, fmt.Errorf("docker: inspect image %s: %w", ref, err)
	}
}

// ensureImage makes ref present, pulling it when allowed.
func (d *Docker) ensureImage(ctx context.Context, ref string) error {
	present, err := d.imagePresent(ctx, ref)
	if err != nil || present {
		return err
	}
	rc, err := d.cli.ImagePull(ctx, ref, image.PullOptions{})
	if err != nil {
		return fmt.Errorf("docker: pull %s: %w", ref, err)
	}
	defer rc.Close()
	if err := readProgress(rc); err != nil {
		return fmt.Errorf("docker: pull %s: %w", ref, err)
	}
	return nil
}

// readProgress drains a stream of the daemon's JSON progress messages (pull,
// build), returning the first error message in it.
func readProgress(r io.Reader) error {
	dec := json.NewDecoder(r)
	for {
		var m struct {
			Error       string `json:"error"`
			ErrorDetail struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
		if m.ErrorDetail.Message != "" {
			return errors.New(m.ErrorDetail.Message)
		}
		if m.Error != "" {
			return errors.New(m.Error)
		}
	}
}

// Janitor removes leftover job containers (force, with their anonymous
// volumes): those labelled DockerJobLabel=1 and, when the executor has an
// owner, DockerOwnerLabel=owner. Call it at node start, before any Run: it
// would also remove the containers of runs in flight. It returns how many it
// removed.
func (d *Docker) Janitor(ctx context.Context) (int, error) {
	list, err := d.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: d.labelFilter()})
	if err != nil {
		return 0, fmt.Errorf("docker janitor: list containers: %w", err)
	}
	var errs []error
	n := 0
	for _, c := range list {
		err := d.cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
		switch {
		case err == nil:
			n++
		case cerrdefs.IsNotFound(err):
		default:
			errs = append(errs, fmt.Errorf("remove %.12s: %w", c.ID, err))
		}
	}
	if len(errs) > 0 {
		return n, fmt.Errorf("docker janitor: %w", errors.Join(errs...))
	}
	return n, nil
}

// labelFilter selects this executor's job containers.
func (d *Docker) labelFilter() filters.Args {
	f := filters.NewArgs(filters.Arg("label", DockerJobLabel+"=1"))
	if d.cfg.owner != "" {
		f.Add("label", DockerOwnerLabel+"="+d.cfg.owner)
	}
	return f
}

// newRunID returns a random run ID (16 hex digits).
func newRunID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
