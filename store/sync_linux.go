package store

import (
	"os"

	"github.com/computemesh/computemesh/internal/atomicfile"
	"golang.org/x/sys/unix"
)

// deferredSync leaves a block's file and directory to Sync: on Linux one
// syncfs(2) makes a whole batch durable.
func deferredSync() atomicfile.Option { return atomicfile.NoSync() }

// syncStore flushes the file system that holds dir: every block written
// into it, with its name.
func syncStore(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return unix.Syncfs(int(d.Fd()))
}
