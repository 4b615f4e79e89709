package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/computemesh/computemesh/mesh"
	"github.com/libp2p/go-libp2p/core/peer"
)

// An identity moves between data dirs by export and import, with a warning;
// an existing key is never overwritten, and garbage is refused.
func TestCLIIdentityExportImport(t *testing.T) {
	home, a, b := t.TempDir(), t.TempDir(), filepath.Join(t.TempDir(), "new")
	key, err := mesh.LoadOrCreateKey(a)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := peer.IDFromPrivateKey(key)
	file := filepath.Join(t.TempDir(), "id.key")

	r := meshnode(t, home, "identity", "export", "--data-dir", a, "--out", file)
	if r.code != 0 || !strings.Contains(r.stderr, "holds its credits") {
		t.Fatalf("export: want exit 0 and the warning\n%s", r)
	}
	if st, err := os.Stat(file); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("exported file: %v, mode %v; want 0600", err, st.Mode())
	}
	if r := meshnode(t, home, "identity", "export", "--data-dir", a, "--out", file); r.code != 2 {
		t.Fatalf("export over an existing file: want exit 2\n%s", r)
	}
	r = meshnode(t, home, "identity", "import", file, "--data-dir", b)
	if r.code != 0 || !strings.Contains(r.stdout, want.String()) {
		t.Fatalf("import: want exit 0 naming %s\n%s", want, r)
	}
	got, err := mesh.LoadOrCreateKey(b)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := peer.IDFromPrivateKey(got); id != want {
		t.Fatalf("imported identity %s, want %s", id, want)
	}
	if r := meshnode(t, home, "identity", "import", file, "--data-dir", b); r.code != 2 || !strings.Contains(r.stderr, "never overwritten") {
		t.Fatalf("import over an existing key: want exit 2 and why\n%s", r)
	}
	garbage := filepath.Join(t.TempDir(), "garbage")
	if err := os.WriteFile(garbage, []byte("computemesh-identity-v1\nbm90IGEga2V5\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := meshnode(t, home, "identity", "import", garbage, "--data-dir", t.TempDir()); r.code != 2 || !strings.Contains(r.stderr, "exported identity") {
		t.Fatalf("import of garbage: want exit 2 and why\n%s", r)
	}
	empty := t.TempDir()
	if r := meshnode(t, home, "identity", "export", "--data-dir", empty); r.code != 2 {
		t.Fatalf("export without a key: want exit 2\n%s", r)
	}
	if _, err := os.Stat(filepath.Join(empty, mesh.KeyFile)); err == nil {
		t.Fatal("export created a key")
	}
}
