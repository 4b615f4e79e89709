package executor

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"time"
)

type execConfig struct {
	workRoot       string
	stopGrace      time.Duration
	unconfined     bool
	network        bool
	envAllow       []string
	readPaths      []string
	defaultTimeout time.Duration
	defaultMemory  uint64
	defaultOutput  int
}

// ExecOption configures NewExec.
type ExecOption func(*execConfig) error

// WithExecWorkRoot makes the work directories of runs in dir (created if
// missing, mode 0700) rather than in the system's temporary directory.
func WithExecWorkRoot(dir string) ExecOption {
	return func(c *execConfig) error {
		if dir == "" || strings.ContainsRune(dir, 0) {
			return fmt.Errorf("work root: %q is not a directory name", dir)
		}
		c.workRoot = dir
		return nil
	}
}

// WithExecStopGrace sets how long a stopped command's process group has
// between SIGTERM and SIGKILL (default DefaultExecStopGrace); 0 kills at
// once.
func WithExecStopGrace(d time.Duration) ExecOption {
	return func(c *execConfig) error {
		if d < 0 {
			return fmt.Errorf("stop grace: %v is negative", d)
		}
		c.stopGrace = d
		return nil
	}
}

// WithExecUnconfined lets commands run unconfined where confinement is not
// available (see Exec): as the node's own user, seeing the host's files,
// devices and network. Off by default: exec is then refused there.
// Where confinement is available it changes nothing.
func WithExecUnconfined(allow bool) ExecOption {
	return func(c *execConfig) error {
		c.unconfined = allow
		return nil
	}
}

// WithExecNetwork lets commands of tasks that ask for it (Task.Network) run
// in the host's network namespace. Off by default: such tasks are refused.
func WithExecNetwork(allow bool) ExecOption {
	return func(c *execConfig) error {
		c.network = allow
		return nil
	}
}

// WithExecEnv adds names (or prefixes ending in "*", e.g. "MYAPP_*") to the
// environment variables a task may set; by default PATH, HOME, TMPDIR,
// LANG, LANGUAGE, LC_*, TZ, TERM, COLUMNS, LINES, NO_COLOR, a few
// thread-count and Python output settings and JOB_*. A name that changes how
// programs load code (LD_*, GCONV_PATH, GLIBC_TUNABLES, PYTHONPATH,
// NODE_OPTIONS, BASH_ENV, …), or a prefix covering one, is an error.
func WithExecEnv(names ...string) ExecOption {
	return func(c *execConfig) error {
		for _, n := range names {
			if err := checkEnvPattern(n); err != nil {
				return fmt.Errorf("env: %w", err)
			}
		}
		c.envAllow = append(c.envAllow, names...)
		return nil
	}
}

// WithExecReadPaths lets confined commands read and execute beneath these
// absolute paths too (e.g. /opt/toolchain), besides the system's
// directories. They must not hold anything secret.
func WithExecReadPaths(paths ...string) ExecOption {
	return func(c *execConfig) error {
		for _, p := range paths {
			if !filepath.IsAbs(p) || strings.ContainsRune(p, 0) {
				return fmt.Errorf("read path: %q is not an absolute path", p)
			}
			c.readPaths = append(c.readPaths, filepath.Clean(p))
		}
		return nil
	}
}

// WithExecDefaults sets what a Task's zero Timeout, MemoryBytes and
// MaxOutput mean (DefaultTimeout, DefaultMemoryBytes and DefaultMaxOutput
// unless set).
func WithExecDefaults(timeout time.Duration, memoryBytes uint64, maxOutput int) ExecOption {
	return func(c *execConfig) error {
		switch {
		case timeout <= 0:
			return fmt.Errorf("default timeout: %v, must be positive", timeout)
		case memoryBytes == 0 || memoryBytes > math.MaxInt64:
			return fmt.Errorf("default memory: %d bytes, must be positive", memoryBytes)
		case maxOutput <= 0:
			return fmt.Errorf("default max output: %d bytes, must be positive", maxOutput)
		}
		c.defaultTimeout, c.defaultMemory, c.defaultOutput = timeout, memoryBytes, maxOutput
		return nil
	}
}
