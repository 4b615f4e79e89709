// Package confine starts the exec executor's commands inside their
// confinement. The executor runs this program's own binary again
// (/proc/self/exe) with HelperName as argv[0]; this package's init then
// takes over that process before anything else runs: it applies the
// resource limits, drops every capability, restricts itself with the
// Landlock ruleset the executor built (inherited as a file descriptor),
// installs a seccomp filter and finally executes the command, which
// inherits all of it. The executor creates the process in its new
// namespaces (network, IPC and, when unprivileged, user).
//
// A separate process, rather than a restricted thread of the node, keeps
// every thread of the node outside the command's Landlock domain: the
// command can neither signal nor trace any of them.
//
// Any binary that imports the executor carries this package, so the
// node's binary and test binaries alike can serve as the helper.
package confine
