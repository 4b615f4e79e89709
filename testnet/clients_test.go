package testnet

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The API's clients against a devnet, as their users run them: the Go
// example (examples/apiclient: the typed client submits, follows the
// logs, downloads the outputs), and the Python client's tests and example
// with python3.
func TestClientsOnDevnet(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("python3 is not installed: the Python client cannot be tested (a failure under CI=true)")
		}
		t.Skip("python3 is not installed")
	}
	bin := buildMeshnode(t)
	tmp := t.TempDir()
	example := filepath.Join(tmp, "apiclient")
	guest := filepath.Join(tmp, "guest.wasm")
	for _, b := range []*exec.Cmd{
		exec.Command("go", "build", "-o", example, "./examples/apiclient"),
		exec.Command("go", "build", "-trimpath", "-o", guest, "./executor/testdata/guest"),
	} {
		b.Dir = ".."
		if strings.HasSuffix(b.Args[len(b.Args)-1], "guest") {
			b.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
		}
		if out, err := b.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(b.Args, " "), err, out)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	dir := filepath.Join(tmp, "devnet")
	l, err := StartLocal(ctx, bin, dir, LocalNodes(2))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	client := l.DataDir("client")

	out, err := exec.CommandContext(ctx, example, "--data-dir", client, "--module", l.JobPath(HelloModule),
		"--wait", "90s", "from", "go").CombinedOutput()
	t.Logf("examples/apiclient:\n%s", out)
	if err != nil || !strings.Contains(string(out), "from go") || !strings.Contains(string(out), "completed on") {
		t.Fatalf("examples/apiclient: %v", err)
	}

	py := filepath.Join("..", "clients", "python")
	unit := exec.CommandContext(ctx, python, "-m", "unittest", "-v", "test_computemesh")
	unit.Dir = py
	unit.Env = append(os.Environ(), "MESHNODE_DATA_DIR="+client, "MESHNODE_HELLO_MODULE="+l.JobPath(HelloModule),
		"MESHNODE_GUEST_MODULE="+guest)
	out, err = unit.CombinedOutput()
	t.Logf("python3 -m unittest test_computemesh:\n%s", out)
	if err != nil || strings.Contains(string(out), "skipped") {
		t.Fatalf("the Python client's tests: %v", err)
	}
	outputs := filepath.Join(tmp, "py-outputs")
	out, err = exec.CommandContext(ctx, python, filepath.Join(py, "example.py"), "--data-dir", client,
		"--module", guest, "--out", outputs, "write", "/outputs/out.txt").CombinedOutput()
	t.Logf("clients/python/example.py:\n%s", out)
	if err != nil || !strings.Contains(string(out), "completed on") {
		t.Fatalf("clients/python/example.py: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(outputs, "out.txt")); err != nil || string(b) != "written by guest" {
		t.Fatalf("the Python example's outputs: %q, %v", b, err)
	}
}
