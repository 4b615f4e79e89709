package testnet

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// docker-compose.yml and Topology describe the same testnet.
func TestComposeMatchesTopology(t *testing.T) {
	b, err := os.ReadFile("docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Services map[string]struct {
			ContainerName string            `yaml:"container_name"`
			Command       []string          `yaml:"command"`
			Environment   map[string]string `yaml:"environment"`
			Healthcheck   struct {
				Test []string `yaml:"test"`
			} `yaml:"healthcheck"`
			Volumes  []string       `yaml:"volumes"`
			Networks map[string]any `yaml:"networks"`
		} `yaml:"services"`
		Networks map[string]any `yaml:"networks"`
	}
	if err := yaml.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Networks) != 2 {
		t.Errorf("%d docker networks, want 2", len(file.Networks))
	}
	if len(file.Services) != len(Topology()) {
		t.Errorf("%d services, topology has %d nodes", len(file.Services), len(Topology()))
	}
	for _, n := range Topology() {
		s, ok := file.Services[n.Name]
		if !ok {
			t.Errorf("no service %s", n.Name)
			continue
		}
		cmd := strings.Join(s.Command, " ")
		if s.ContainerName != "cm-"+n.Name {
			t.Errorf("%s: container_name %q", n.Name, s.ContainerName)
		}
		if len(s.Healthcheck.Test) < 3 || s.Healthcheck.Test[0] != "CMD" || s.Healthcheck.Test[2] != "status" {
			t.Errorf("%s: healthcheck %v is not the exec form of meshnode status", n.Name, s.Healthcheck.Test)
		}
		if len(s.Volumes) != 1 || !strings.HasSuffix(s.Volumes[0], ":/data") {
			t.Errorf("%s: volumes %v, want its data dir in a volume", n.Name, s.Volumes)
		}
		if want := len(n.Net); len(s.Networks) != want {
			t.Errorf("%s: on %d networks, want %d", n.Name, len(s.Networks), want)
		}
		switch n.Role {
		case RoleBootstrap:
			for _, w := range []string{"--test-identity " + n.Name, "--relay-service", "--mode client"} {
				if !strings.Contains(cmd, w) {
					t.Errorf("%s: command lacks %q", n.Name, w)
				}
			}
		case RoleProvider:
			for _, w := range []string{"--region " + n.Region, "--price-cpu-hour " + n.CPUPrice, "--cpus " + n.CPUs + " --memory " + n.Memory} {
				if !strings.Contains(cmd, w) {
					t.Errorf("%s: command lacks %q: %s", n.Name, w, cmd)
				}
			}
			if n.GPU != "" && !strings.Contains(cmd, "--simulate-gpu "+n.GPU+" --price-gpu-hour "+n.GPUPrice) {
				t.Errorf("%s: command lacks its simulated GPU %s at %s: %s", n.Name, n.GPU, n.GPUPrice, cmd)
			}
		}
		if n.Role != RoleBootstrap {
			for _, boot := range []string{"boot1", "boot2"} {
				if !strings.Contains(cmd, "/p2p/"+BootstrapID(boot)) {
					t.Errorf("%s: bootstrap list lacks %s (%s)", n.Name, boot, BootstrapID(boot))
				}
			}
		}
	}
	regions := map[string]bool{}
	for _, n := range Topology() {
		if n.Region != "" {
			regions[n.Region] = true
		}
	}
	for _, r := range []string{"eu-west", "eu-central", "us-east", "ap-southeast"} {
		if !regions[r] {
			t.Errorf("no provider in %s", r)
		}
	}
}

// buildMeshnode builds the meshnode binary into a temporary directory.
func buildMeshnode(tb testing.TB) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "meshnode")
	build := exec.Command("go", "build", "-o", bin, "./cmd/meshnode")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		tb.Fatalf("building meshnode: %v\n%s", err, out)
	}
	return bin
}

// The devnet (the testnet as local processes of a real meshnode binary on
// 127.0.0.1) passes the scenarios that need no docker network.
func TestDevnetScenarios(t *testing.T) {
	bin := buildMeshnode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir := t.TempDir()
	l, err := StartLocal(ctx, bin, dir, LocalNodes(6))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range l.Nodes() {
				b, _ := os.ReadFile(filepath.Join(dir, n.Name+".log"))
				t.Logf("log of %s:\n%s", n.Name, tail(string(b), 3000))
			}
		}
	})
	for _, run := range []func() *Check{
		func() *Check { return Smoke(ctx, l, "client", 16) },
		func() *Check { return Kill(ctx, l, "client") },
		func() *Check { return BootstrapLoss(ctx, l, "client") },
		func() *Check { return Latency(ctx, l, l, "client") },
	} {
		ck := run()
		for _, d := range ck.Details {
			t.Log("  " + d)
		}
		t.Log(ck)
		if !ck.Pass {
			t.Errorf("%s", ck)
		}
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
