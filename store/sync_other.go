//go:build !linux

package store

import "github.com/computemesh/computemesh/internal/atomicfile"

// deferredSync syncs each block's file as it is written (no syncfs here);
// Sync syncs their directory once.
func deferredSync() atomicfile.Option { return atomicfile.NoDirSync() }

// syncStore syncs dir, where the blocks' names are.
func syncStore(dir string) error { return atomicfile.SyncDir(dir) }
