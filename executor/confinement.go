package executor

import (
	"fmt"
	"strings"
)

// Confinement says how the exec executor confines its commands (see Exec).
type Confinement struct {
	// Landlock is the kernel's Landlock ABI version the rulesets use; 0
	// when commands are not confined.
	Landlock int
	// UserNamespace reports that commands run in a user namespace of their
	// own (mapping only the node's user and group): the node is not root,
	// and creating the other namespaces needs one.
	UserNamespace bool
	// Network reports that jobs that ask for network access get it
	// (WithExecNetwork); the others run in a network namespace of their own.
	Network bool
	// Reason says why commands cannot be confined here; empty when they
	// are.
	Reason string
	// Unconfined reports that the owner allows unconfined commands where
	// confinement is not available (WithExecUnconfined).
	Unconfined bool
}

// Confined reports whether commands run confined.
func (c Confinement) Confined() bool { return c.Reason == "" }

// String describes c in one line.
func (c Confinement) String() string {
	if !c.Confined() {
		if c.Unconfined {
			return "UNCONFINED: " + c.Reason + "; commands run as the node's user and see its files, devices and network (--exec-unconfined)"
		}
		return "refused: " + c.Reason + " (--exec-unconfined runs commands unconfined)"
	}
	parts := []string{fmt.Sprintf("Landlock ABI %d", c.Landlock)}
	if c.Landlock < 6 {
		parts = append(parts, "signals not scoped (Landlock ABI < 6)")
	}
	ns := "network and IPC namespaces"
	if c.Network {
		ns = "IPC namespace, network namespace unless the job asks for network"
	}
	if c.UserNamespace {
		ns = "user, " + ns
	}
	parts = append(parts, ns, "seccomp (no Unix sockets, no io_uring)", "no capabilities")
	return "confined: " + strings.Join(parts, ", ")
}
