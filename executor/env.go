package executor

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// An exec command's environment comes from an allowlist of names: the
// defaults below, extended by the owner (WithExecEnv). Names that change how
// the dynamic loader, the C library or an interpreter loads code are denied
// outright, whatever the owner allows.
var (
	// execEnvAllowed are the names a job may set by default; a trailing
	// "*" makes a prefix.
	execEnvAllowed = []string{
		"PATH", "HOME", "TMPDIR", "LANG", "LANGUAGE", "LC_*", "TZ", "TERM", "COLUMNS", "LINES", "NO_COLOR",
		"OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
		"PYTHONUNBUFFERED", "PYTHONHASHSEED", "PYTHONDONTWRITEBYTECODE", "SOURCE_DATE_EPOCH",
		"JOB_*",
	}
	// execEnvDenied are never allowed (a trailing "*" makes a prefix).
	execEnvDenied = []string{
		// The dynamic loader and the C library.
		"LD_*", "GCONV_PATH", "GLIBC_TUNABLES", "LOCPATH", "NLSPATH", "MALLOC_*", "HOSTALIASES",
		"RES_OPTIONS", "LOCALDOMAIN", "TZDIR", "GCONV_*", "DYLD_*",
		// Shells.
		"BASH_ENV", "ENV", "SHELLOPTS", "BASHOPTS", "BASH_FUNC_*", "PS4", "PROMPT_COMMAND", "IFS", "CDPATH",
		// Interpreters and runtimes that load code named by the environment.
		"PYTHONPATH", "PYTHONSTARTUP", "PYTHONHOME", "PYTHONUSERBASE", "PYTHONBREAKPOINT",
		"PYTHONINSPECT", "PYTHONWARNINGS", "PYTHONEXECUTABLE", "PYTHONPLATLIBDIR",
		"PERL*", "RUBY*", "NODE_*", "JAVA_*", "_JAVA_*", "JDK_JAVA_OPTIONS", "CLASSPATH",
		"LUA_*", "TCLLIBPATH", "R_PROFILE*", "R_ENVIRON*", "PHPRC", "PHP_INI_SCAN_DIR",
		"OPENSSL_*", "GIT_*", "GODEBUG", "GOFLAGS", "GOTOOLCHAIN",
		// Set by the executor.
		ExecInputsEnv, ExecOutputsEnv,
	}
)

// The variables a provider sets for each task of a job array (the same
// names as job.TaskIndexEnv and job.TaskCountEnv): always allowed.
const (
	TaskIndexEnv = "COMPUTEMESH_TASK_INDEX"
	TaskCountEnv = "COMPUTEMESH_TASK_COUNT"
)

// ErrEnvNotAllowed is returned by Exec's Validate and Run for a task whose
// Env sets a variable that is denied or not in the allowlist; it also
// matches ErrInvalidTask, and the message names the variable.
var ErrEnvNotAllowed = errors.New("environment variable not allowed")

// envPolicy decides which environment names a job may set.
type envPolicy struct {
	allowed []string // names and prefixes ("X_*")
}

// matchName reports whether name matches one of patterns.
func matchName(patterns []string, name string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool {
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			return strings.HasPrefix(name, prefix)
		}
		return p == name
	})
}

// checkEnvPattern refuses an owner's allowlist entry: not a name or a
// prefix, or one that would allow a denied name.
func checkEnvPattern(p string) error {
	name, prefix := strings.CutSuffix(p, "*")
	if name == "" || strings.ContainsAny(name, "=*\x00") {
		return fmt.Errorf("%q is not a variable name or a prefix ending in *", p)
	}
	if matchName(execEnvDenied, name) {
		return fmt.Errorf("%s is never allowed (it changes how programs load code)", p)
	}
	if prefix {
		// A prefix must not cover a denied name or prefix.
		for _, d := range execEnvDenied {
			if strings.HasPrefix(strings.TrimSuffix(d, "*"), name) {
				return fmt.Errorf("%s would allow %s, which is never allowed", p, d)
			}
		}
	}
	return nil
}

// check refuses the first name of env (in sorted order) that is denied or
// not allowed, naming it.
func (p *envPolicy) check(env map[string]string) error {
	for _, k := range slices.Sorted(maps.Keys(env)) {
		switch {
		case k == ExecInputsEnv || k == ExecOutputsEnv:
			// Replaced by the executor (see environ).
		case k == TaskIndexEnv || k == TaskCountEnv:
			// Set by the provider for each task of a job array.
		case matchName(execEnvDenied, k):
			return invalidTaskKind(ErrEnvNotAllowed, "env: %s is not allowed (it changes how programs load code)", k)
		case !matchName(p.allowed, k):
			return invalidTaskKind(ErrEnvNotAllowed, "env: %s is not allowed by this provider's owner (allowed: %s)", k, strings.Join(p.allowed, ", "))
		}
	}
	return nil
}
