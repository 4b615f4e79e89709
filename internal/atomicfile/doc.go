// Package atomicfile is computemesh's one way to replace a file durably:
// the content goes to a temporary file in the same directory, which is
// fsynced, renamed over the target and followed by an fsync of the
// directory. A crash at any point leaves either the old file or the new
// one, complete, never a mix; once a write has returned nil, the new file
// survives a power loss.
//
// On any failure the temporary file is removed and the old file is left
// as it was. Errors name the target path and wrap the cause (%w).
//
// The temporary file is named <prefix><random>, the prefix being
// ".tmp-<base name>-" unless TempPrefix gives another, so that a caller
// that scans its directory can recognise (skip, clean up) the leftovers of
// a write a crash interrupted.
//
// The package imports only the standard library: the pure packages (the
// ledger) may use it.
package atomicfile
