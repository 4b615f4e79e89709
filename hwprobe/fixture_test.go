package hwprobe

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/tools/txtar"
)

// fixture unpacks testdata/<name>.txtar into a fresh directory tree and
// returns its root, to be handed to WithRoot. The trees are kept as txtar
// archives because sysfs names (0000:17:00.0) hold colons, which neither Go
// module zips nor Windows checkouts allow in file names. In an archive, a
// file X.symlink becomes a symbolic link X to its content, and files under
// bin/ are made executable (fake nvidia-smi and rocm-smi).
func fixture(t *testing.T, name string) string {
	t.Helper()
	ar, err := txtar.ParseFile(filepath.Join("testdata", name+".txtar"))
	if err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	root := t.TempDir()
	for _, f := range ar.Files {
		p := filepath.Join(root, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatalf("fixture %s: %v", name, err)
		}
		if link, ok := strings.CutSuffix(p, ".symlink"); ok {
			if err := os.Symlink(strings.TrimSpace(string(f.Data)), link); err != nil {
				t.Fatalf("fixture %s: %v", name, err)
			}
			continue
		}
		mode := os.FileMode(0o644)
		if strings.HasPrefix(f.Name, "bin/") {
			mode = 0o755
		}
		if err := os.WriteFile(p, f.Data, mode); err != nil {
			t.Fatalf("fixture %s: %v", name, err)
		}
	}
	return root
}

// writeScript writes an executable shell script named name into a new
// directory and returns the directory, to be handed to WithPath.
func writeScript(t *testing.T, name, body string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// smallBench shrinks the benchmark for tests.
func smallBench() Option {
	return func(c *config) {
		c.bench = benchSizes{hashBytes: 4 << 20, hashBudget: 20 * time.Millisecond, matN: 64, matReps: 4, matBudget: 20 * time.Millisecond}
	}
}
