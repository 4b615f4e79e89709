//go:build unix

package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/computemesh/computemesh/internal/kubofixture"
)

// TestCLIAddGetUnixFS: `meshnode add` gives a file or tree the CID kubo
// gives it (`ipfs add --cid-version 1 --raw-leaves`, unixfs/testdata), and
// `meshnode get` writes it back as it was — never over an existing path
// that is not an empty directory.
func TestCLIAddGetUnixFS(t *testing.T) {
	t.Parallel()
	var kubo struct {
		Files map[string]string `json:"files"`
		Trees map[string]string `json:"trees"`
	}
	b, err := os.ReadFile(filepath.Join("..", "..", "unixfs", "testdata", "kubo.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &kubo); err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	if err := kubofixture.Write(src); err != nil { // src/files/NAME, src/trees/NAME
		t.Fatal(err)
	}
	home, dataDir := t.TempDir(), t.TempDir()
	add := func(name string) string {
		t.Helper()
		r := meshnode(t, home, "add", "--data-dir", dataDir, filepath.Join(src, name))
		if r.code != 0 {
			t.Fatalf("add %s\n%s", name, r)
		}
		return strings.TrimSpace(r.stdout)
	}
	for _, name := range []string{"hello.txt", "chunk1.bin", "wide.bin"} {
		if got := add(filepath.Join("files", name)); got != kubo.Files[name] {
			t.Errorf("add %s: %s, kubo gives %s", name, got, kubo.Files[name])
		}
	}
	tree := add(filepath.Join("trees", "tree"))
	if tree != kubo.Trees["tree"] {
		t.Fatalf("add tree: %s, kubo gives %s", tree, kubo.Trees["tree"])
	}

	out := filepath.Join(t.TempDir(), "tree")
	if r := meshnode(t, home, "get", tree, "-o", out, "--data-dir", dataDir); r.code != 0 {
		t.Fatalf("get\n%s", r)
	}
	for p, want := range kubofixture.Trees()["tree"] {
		if strings.HasSuffix(p, "/") {
			if st, err := os.Stat(filepath.Join(out, p)); err != nil || !st.IsDir() {
				t.Errorf("%s: not a directory: %v", p, err)
			}
			continue
		}
		if got, err := os.ReadFile(filepath.Join(out, p)); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes, want %d: %v", p, len(got), len(want), err)
		}
	}
	// Nothing is overwritten: a path that holds something is refused.
	r := meshnode(t, home, "get", tree, "-o", out, "--data-dir", dataDir)
	if r.code == 0 || !strings.Contains(r.stderr, out) {
		t.Fatalf("get over a non-empty directory: code %d\n%s", r.code, r)
	}
	if got, err := os.ReadFile(filepath.Join(out, "a.txt")); err != nil || string(got) != "a\n" {
		t.Fatalf("a refused get changed what was there: %q, %v", got, err)
	}
	// Nor a file, even when the CID is not there to write.
	file := filepath.Join(t.TempDir(), "mine.txt")
	if err := os.WriteFile(file, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{kubo.Files["hello.txt"], "bafkreie7q3iidccmpvszul7kudcvvuavuo7u6gzlbobczuk5nqk3b4akba"} {
		if r := meshnode(t, home, "get", c, "-o", file, "--data-dir", dataDir); r.code == 0 {
			t.Fatalf("get %s over a file: exit 0\n%s", c, r)
		}
		if got, err := os.ReadFile(file); err != nil || string(got) != "mine" {
			t.Fatalf("a refused get of %s changed the file: %q, %v", c, got, err)
		}
	}
}
