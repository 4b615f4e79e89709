package confine

import (
	"errors"
	"strconv"
	"strings"
)

// HelperName is the helper's argv[0]: a process started with it runs as
// the helper (see package doc), whatever its binary's main does.
const HelperName = "computemesh-exec-confine"

// protocol is the version of the helper's argument format: the executor and
// its helper are one binary, but a binary replaced on disk while the node
// runs could differ.
const protocol = "v1"

// Descriptors the helper inherits.
const (
	// StatusFD is the write end of a pipe that reports why the helper
	// failed before the command started; close-on-exec once the helper
	// runs, so the parent reads EOF when the command starts.
	StatusFD = 3
	// RulesetFD is the Landlock ruleset the helper restricts itself with,
	// when Spec.Landlock is set.
	RulesetFD = 4
)

// Rlimit is one resource limit the helper sets, soft and hard.
type Rlimit struct {
	Resource int
	Value    uint64
}

// Spec is what the helper does before it executes Path.
type Spec struct {
	Path string   // absolute path of the command
	Args []string // its argv, argv[0] included
	Env  []string // its environment, "NAME=value"
	// Limits are set just before the command is executed.
	Limits []Rlimit
	// Landlock restricts the helper with the ruleset at RulesetFD.
	Landlock bool
	// Seccomp installs the filter that refuses Unix sockets and io_uring.
	Seccomp bool
	// DropCaps empties every capability set, the bounding set included
	// (needed when the node runs as root).
	DropCaps bool
	// Probe makes the helper exit 0 once everything is applied, instead of
	// executing Path: a check that confinement works here.
	Probe bool
}

// Argv encodes s as the helper's command line.
func (s *Spec) Argv() []string {
	var flags []string
	for _, f := range []struct {
		on   bool
		name string
	}{{s.Landlock, "landlock"}, {s.Seccomp, "seccomp"}, {s.DropCaps, "dropcaps"}, {s.Probe, "probe"}} {
		if f.on {
			flags = append(flags, f.name)
		}
	}
	lims := make([]string, len(s.Limits))
	for i, l := range s.Limits {
		lims[i] = strconv.Itoa(l.Resource) + "=" + strconv.FormatUint(l.Value, 10)
	}
	argv := make([]string, 0, 6+len(s.Env)+len(s.Args))
	argv = append(argv, HelperName, protocol, strings.Join(flags, ","), strings.Join(lims, ","), strconv.Itoa(len(s.Env)))
	argv = append(argv, s.Env...)
	argv = append(argv, s.Path)
	return append(argv, s.Args...)
}

// parseArgv decodes what Argv encoded.
func parseArgv(argv []string) (*Spec, error) {
	if len(argv) < 5 || argv[0] != HelperName {
		return nil, errors.New("not a helper command line")
	}
	if argv[1] != protocol {
		return nil, errors.New("protocol " + strconv.Quote(argv[1]) + ", want " + protocol + " (was the binary replaced while the node ran?)")
	}
	s := &Spec{}
	if argv[2] != "" {
		for _, f := range strings.Split(argv[2], ",") {
			switch f {
			case "landlock":
				s.Landlock = true
			case "seccomp":
				s.Seccomp = true
			case "dropcaps":
				s.DropCaps = true
			case "probe":
				s.Probe = true
			default:
				return nil, errors.New("unknown flag " + strconv.Quote(f))
			}
		}
	}
	if argv[3] != "" {
		for _, l := range strings.Split(argv[3], ",") {
			r, v, ok := strings.Cut(l, "=")
			res, err1 := strconv.Atoi(r)
			val, err2 := strconv.ParseUint(v, 10, 64)
			if !ok || err1 != nil || err2 != nil {
				return nil, errors.New("bad limit " + strconv.Quote(l))
			}
			s.Limits = append(s.Limits, Rlimit{Resource: res, Value: val})
		}
	}
	n, err := strconv.Atoi(argv[4])
	if err != nil || n < 0 || 5+n >= len(argv) {
		return nil, errors.New("bad environment count " + strconv.Quote(argv[4]))
	}
	s.Env = argv[5 : 5+n]
	s.Path = argv[5+n]
	s.Args = argv[6+n:]
	if !s.Probe && len(s.Args) == 0 {
		return nil, errors.New("no argv")
	}
	return s, nil
}
