package provider

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// workDirs makes each run's inputs and outputs directories (under
// <data-dir>/runs, or the system's temporary directory) and removes them
// after the run. A WASM run's pair, once empty again, is kept for the next
// WASM run instead: a guest sees only the two directories through WASI,
// which can create and remove files in them but not change their modes or
// owners, so an empty pair is as good as a new one, and creating and
// removing three directories per job was a tenth of a busy provider's CPU.
// Other executors' directories are always removed (a container or a
// command may change what it was given).
type workDirs struct {
	base string // "" : the system's temporary directory

	mu   sync.Mutex
	made bool     // base exists
	idle []string // roots of empty pairs, ready for a WASM run
}

// maxIdleDirs bounds the pairs kept for reuse.
const maxIdleDirs = 64

// take returns a run's inputs and outputs directories and the cleanup to
// call after the run; reusable says whether the pair may be kept for
// another run once empty.
func (w *workDirs) take(reusable bool) (in, out string, cleanup func(), err error) {
	w.mu.Lock()
	var root string
	if reusable && len(w.idle) > 0 {
		root = w.idle[len(w.idle)-1]
		w.idle = w.idle[:len(w.idle)-1]
	}
	w.mu.Unlock()
	if root == "" {
		if root, err = w.make(); err != nil {
			return "", "", nil, err
		}
	}
	in, out = filepath.Join(root, "inputs"), filepath.Join(root, "outputs")
	return in, out, func() { w.give(root, reusable) }, nil
}

// make creates a new pair and returns its root.
func (w *workDirs) make() (string, error) {
	w.mu.Lock()
	made := w.made
	w.mu.Unlock()
	if w.base != "" && !made {
		if err := os.MkdirAll(w.base, 0o700); err != nil {
			return "", err
		}
		w.mu.Lock()
		w.made = true
		w.mu.Unlock()
	}
	root, err := os.MkdirTemp(w.base, "run-")
	if err != nil {
		return "", err
	}
	for _, d := range []string{"inputs", "outputs"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o700); err != nil {
			os.RemoveAll(root)
			return "", err
		}
	}
	return root, nil
}

// give takes a pair back after its run: kept when reusable and both
// directories are empty (and the pool has room), else removed.
func (w *workDirs) give(root string, reusable bool) {
	if reusable && empty(filepath.Join(root, "inputs")) && empty(filepath.Join(root, "outputs")) {
		w.mu.Lock()
		if len(w.idle) < maxIdleDirs {
			w.idle = append(w.idle, root)
			w.mu.Unlock()
			return
		}
		w.mu.Unlock()
	}
	os.RemoveAll(root)
}

// close removes the pairs kept for reuse.
func (w *workDirs) close() {
	w.mu.Lock()
	idle := w.idle
	w.idle = nil
	w.mu.Unlock()
	for _, root := range idle {
		os.RemoveAll(root)
	}
}

// empty reports whether dir is a directory with nothing in it.
func empty(dir string) bool {
	f, err := os.Open(dir)
	if err != nil {
		return false
	}
	defer f.Close()
	_, err = f.Readdirnames(1)
	return errors.Is(err, io.EOF)
}
