package node

import (
	"os"
	"path/filepath"
)

// workDirs creates a run's inputs and outputs directories; cleanup removes
// them.
func (n *Node) workDirs() (in, out string, cleanup func(), err error) {
	base := ""
	if n.cfg.DataDir != "" {
		base = filepath.Join(n.cfg.DataDir, "runs")
		if err := os.MkdirAll(base, 0o700); err != nil {
			return "", "", nil, err
		}
	}
	root, err := os.MkdirTemp(base, "run-")
	if err != nil {
		return "", "", nil, err
	}
	in, out = filepath.Join(root, "inputs"), filepath.Join(root, "outputs")
	for _, d := range []string{in, out} {
		if err := os.Mkdir(d, 0o700); err != nil {
			os.RemoveAll(root)
			return "", "", nil, err
		}
	}
	return in, out, func() { os.RemoveAll(root) }, nil
}
