package executor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/computemesh/computemesh/executor/internal/confine"
)

// helperExe is the binary the executor runs as its confining helper: the
// node's own (see package confine).
const helperExe = "/proc/self/exe"

// What a confined command may reach besides its own directories.
var (
	// execSystemDirs may be read and executed.
	execSystemDirs = []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}
	// execSystemFiles may be read: what the dynamic loader, the C library
	// (names, time zones, resolver) and runtimes that size themselves to
	// the machine read. Not the rest of /etc (/etc/shadow, private keys).
	execSystemFiles = []string{
		"/etc/ld.so.cache", "/etc/ld.so.preload", "/etc/ld.so.conf", "/etc/ld.so.conf.d",
		"/etc/localtime", "/etc/timezone", "/etc/nsswitch.conf", "/etc/passwd", "/etc/group",
		"/etc/hosts", "/etc/host.conf", "/etc/resolv.conf", "/etc/gai.conf", "/etc/protocols",
		"/etc/services", "/etc/ssl/certs", "/etc/mime.types",
		"/proc/cpuinfo", "/proc/meminfo", "/sys/devices/system/cpu",
		"/dev/zero", "/dev/random", "/dev/urandom",
	}
	// execSystemWritable may be read and written.
	execSystemWritable = []string{"/dev/null", "/dev/full"}
)

// confiner starts commands confined (see Exec).
type confiner struct {
	abi      int
	userns   bool // not root: a user namespace mapping uid and gid
	uid, gid int
}

// newConfiner checks that commands can be confined here, by confining a
// helper that exits at once; the error says why not.
func newConfiner() (*confiner, error) {
	abi, err := confine.LandlockABI()
	if err != nil {
		return nil, err
	}
	if err := confine.SeccompSupported(); err != nil {
		return nil, err
	}
	c := &confiner{abi: abi, uid: os.Getuid(), gid: os.Getgid()}
	c.userns = os.Geteuid() != 0
	rs, err := confine.NewRuleset(abi)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	spec := confine.Spec{Landlock: true, Seccomp: true, DropCaps: true, Probe: true}
	if err := probeHelper(&spec, c.sysProcAttr(false), rs.File()); err != nil {
		if c.userns {
			return nil, fmt.Errorf("%w (unprivileged user namespaces may be disabled: sysctl kernel.unprivileged_userns_clone, user.max_user_namespaces, or an AppArmor restriction)", err)
		}
		return nil, err
	}
	return c, nil
}

// probeHelper runs the helper in probe mode and reports its failure.
func probeHelper(spec *confine.Spec, attr *syscall.SysProcAttr, ruleset *os.File) error {
	st, err := newHelperStatus(ruleset)
	if err != nil {
		return err
	}
	defer st.close()
	var stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, helperExe)
	cmd.Args, cmd.Env, cmd.Stderr = spec.Argv(), []string{}, &stderr
	cmd.SysProcAttr, cmd.ExtraFiles = attr, st.extraFiles()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting a confined process: %w", err)
	}
	st.started()
	err = cmd.Wait()
	if msg := st.wait(); msg != "" {
		return errors.New(msg)
	}
	if err != nil {
		return fmt.Errorf("confined process: %v %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	return nil
}

// sysProcAttr is what the helper starts with: its own process group, killed
// if the node dies, and, confined, namespaces of its own.
func (c *confiner) sysProcAttr(network bool) *syscall.SysProcAttr {
	attr := sysProcAttr()
	if c == nil {
		return attr
	}
	attr.Cloneflags = syscall.CLONE_NEWIPC
	if !network {
		attr.Cloneflags |= syscall.CLONE_NEWNET
	}
	if c.userns {
		attr.Cloneflags |= syscall.CLONE_NEWUSER
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: c.uid, HostID: c.uid, Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: c.gid, HostID: c.gid, Size: 1}}
		attr.GidMappingsEnableSetgroups = false
	}
	return attr
}

// ruleset is what t's command may reach: the system's programs and
// libraries and the few files they read, t.Command, the owner's readPaths
// (read and execute), t's inputs (read), its work directory (read and
// write) and outputs (read and write, but no symbolic links: the node
// collects them).
func (c *confiner) ruleset(t *Task, work string, readPaths []string) (*confine.Ruleset, error) {
	rs, err := confine.NewRuleset(c.abi)
	if err != nil {
		return nil, err
	}
	type rule struct {
		path     string
		access   uint64
		optional bool
	}
	var rules []rule
	for _, p := range execSystemDirs {
		rules = append(rules, rule{p, confine.AccessRead | confine.AccessExec, true})
	}
	for _, p := range execSystemFiles {
		rules = append(rules, rule{p, confine.AccessRead, true})
	}
	for _, p := range execSystemWritable {
		rules = append(rules, rule{p, confine.AccessRead | confine.AccessWrite, true})
	}
	rules = append(rules, rule{t.Command, confine.AccessRead | confine.AccessExec, false})
	for _, p := range readPaths {
		rules = append(rules, rule{p, confine.AccessRead | confine.AccessExec, true})
	}
	if t.InputsDir != "" {
		rules = append(rules, rule{t.InputsDir, confine.AccessRead, false})
	}
	rules = append(rules, rule{work, confine.AccessRead | confine.AccessWrite, false})
	if t.OutputsDir != "" {
		rules = append(rules, rule{t.OutputsDir, confine.AccessRead | confine.AccessWrite&^confine.AccessMakeSym, false})
	}
	for _, r := range rules {
		if err := rs.Allow(r.path, r.access); err != nil && !(r.optional && errors.Is(err, fs.ErrNotExist)) {
			rs.Close()
			return nil, err
		}
	}
	return rs, nil
}

// command is the helper's command for t, confined unless c is nil.
func (e *Exec) command(t *Task, work string, limits []confine.Rlimit) (*exec.Cmd, *helperStatus, error) {
	c := e.confiner
	spec := confine.Spec{
		Path: t.Command, Args: append([]string{t.Command}, t.Args...), Env: environ(t, work), Limits: limits,
	}
	var ruleset *os.File
	if c != nil {
		rs, err := c.ruleset(t, work, e.cfg.readPaths)
		if err != nil {
			return nil, nil, fmt.Errorf("exec: confining %s: %w", t.Command, err)
		}
		ruleset = rs.File()
		spec.Landlock, spec.Seccomp, spec.DropCaps = true, true, true
	}
	st, err := newHelperStatus(ruleset)
	if err != nil {
		if ruleset != nil {
			ruleset.Close()
		}
		return nil, nil, fmt.Errorf("exec: %w", err)
	}
	cmd := &exec.Cmd{
		Path:        helperExe,
		Args:        spec.Argv(),
		Env:         []string{}, // the helper's; the command's travels in Args
		Dir:         work,
		SysProcAttr: c.sysProcAttr(t.Network),
		ExtraFiles:  st.extraFiles(),
	}
	return cmd, st, nil
}

// helperStatus reads what the helper reports when it fails before the
// command runs (confine.StatusFD).
type helperStatus struct {
	r, w    *os.File
	ruleset *os.File // nil when unconfined
	done    chan struct{}
	msg     []byte
	once    sync.Once
}

func newHelperStatus(ruleset *os.File) (*helperStatus, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	return &helperStatus{r: r, w: w, ruleset: ruleset, done: make(chan struct{})}, nil
}

// extraFiles are the helper's descriptors from 3 on.
func (h *helperStatus) extraFiles() []*os.File {
	files := []*os.File{h.w} // confine.StatusFD
	if h.ruleset != nil {
		files = append(files, h.ruleset) // confine.RulesetFD
	}
	return files
}

// started closes the parent's copies of the helper's descriptors and reads
// the status until the helper executes the command or exits.
func (h *helperStatus) started() {
	h.w.Close()
	if h.ruleset != nil {
		h.ruleset.Close()
	}
	go func() {
		defer close(h.done)
		h.msg, _ = io.ReadAll(io.LimitReader(h.r, 4096))
	}()
}

// wait returns the helper's failure, "" if it executed the command; call
// it once the process has exited.
func (h *helperStatus) wait() string {
	select {
	case <-h.done:
	case <-time.After(execDrainTimeout):
		h.r.Close() // cannot happen: nothing else holds the write end
		<-h.done
	}
	return string(h.msg)
}

// close releases every descriptor; after started, it waits for the reader.
func (h *helperStatus) close() {
	h.once.Do(func() {
		h.w.Close()
		if h.ruleset != nil {
			h.ruleset.Close()
		}
		h.r.Close()
	})
}
