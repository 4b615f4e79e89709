package hwprobe

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// dockerSocket serves handler on a unix socket and returns its path. The
// directory comes from os.MkdirTemp, not t.TempDir: unix socket paths are
// limited to about 100 bytes.
func dockerSocket(t *testing.T, handler http.HandlerFunc) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "dk")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "docker.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: handler}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return path
}

func TestProbeDocker(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("unix sockets")
	}
	ok := func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/_ping" || r.Method != http.MethodGet {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("OK"))
	}
	tests := []struct {
		name      string
		socket    func(t *testing.T) string
		executors []string
		note      string
	}{
		{"daemon answers", func(t *testing.T) string { return dockerSocket(t, ok) }, []string{"wasm", "docker"}, ""},
		{"no socket", func(t *testing.T) string { return filepath.Join(t.TempDir(), "docker.sock") }, []string{"wasm"}, ""},
		{
			"daemon in trouble",
			func(t *testing.T) string {
				return dockerSocket(t, func(w http.ResponseWriter, _ *http.Request) {
					http.Error(w, "starting", http.StatusServiceUnavailable)
				})
			},
			[]string{"wasm"}, "executors: docker: pinging docker at ",
		},
		{
			"socket file without a daemon",
			func(t *testing.T) string {
				p := filepath.Join(t.TempDir(), "docker.sock")
				if err := os.WriteFile(p, nil, 0o600); err != nil {
					t.Fatal(err)
				}
				return p
			},
			[]string{"wasm"}, "executors: docker: pinging docker at ",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Probe(context.Background(), WithRoot(t.TempDir()), WithPath(""), WithoutBenchmark(),
				WithDockerSocket(tt.socket(t)))
			if !slices.Equal(r.Executors, tt.executors) {
				t.Errorf("Executors %q, want %q", r.Executors, tt.executors)
			}
			var dockerNotes []string
			for _, n := range r.Notes {
				if strings.HasPrefix(n, "executors:") {
					dockerNotes = append(dockerNotes, n)
				}
			}
			if tt.note == "" && len(dockerNotes) > 0 || tt.note != "" && (len(dockerNotes) != 1 || !strings.HasPrefix(dockerNotes[0], tt.note)) {
				t.Errorf("executor notes %q, want %q", dockerNotes, tt.note)
			}
		})
	}
}

// TestProbeEmptyRoot: a tree with nothing in it still gives a report, every
// gap named.
func TestProbeEmptyRoot(t *testing.T) {
	r := Probe(context.Background(), WithRoot(t.TempDir()), WithPath(""), WithoutBenchmark())
	if r.GPUs == nil || len(r.GPUs) != 0 || r.CPU.Flags == nil {
		t.Errorf("GPUs %v, flags %v: want empty lists, not nil", r.GPUs, r.CPU.Flags)
	}
	for _, prefix := range []string{"cpu: ", "memory: ", "gpu: "} {
		if !slices.ContainsFunc(r.Notes, func(n string) bool { return strings.HasPrefix(n, prefix) }) {
			t.Errorf("no %q note in %q", prefix, r.Notes)
		}
	}
}

func TestProbeComputeFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"none", nil, []string{}},
		{"x86", strings.Fields("fpu sse4_1 sse4_2 avx avx2 fma aes sha_ni avx512f avx512_vnni amx_tile amx_bf16 f16c bmi2 avx_vnni"),
			[]string{"aes", "amx_bf16", "amx_tile", "avx", "avx2", "avx512_vnni", "avx512f", "avx_vnni", "f16c", "fma", "sha_ni", "sse4_2"}},
		{"arm64", strings.Fields("fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics asimddp sha512 sve sve2 i8mm bf16"),
			[]string{"aes", "asimd", "asimddp", "bf16", "i8mm", "sha2", "sha512", "sve", "sve2"}},
		{"arm 32-bit", strings.Fields("half thumb fastmult vfp edsp neon vfpv3"), []string{"neon"}},
		{"duplicates and case", []string{"AVX2", "avx2", " fma "}, []string{"avx2", "fma"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := computeFlags(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("computeFlags(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestProbeMountOf(t *testing.T) {
	t.Parallel()
	mountinfo := filepath.Join(t.TempDir(), "mountinfo")
	content := `22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw
30 22 259:3 / /data rw,relatime shared:2 - xfs /dev/nvme1n1 rw
31 30 0:40 / /data rw,relatime shared:3 - tmpfs tmpfs rw
32 22 259:4 / /mnt/my\040disk rw,relatime - ext4 /dev/sdb1 rw
33 22 0:50 / /srv rw master:4 propagation:x - nfs4 host:/export rw
garbage line
34 22 0:51 / /short -
`
	if err := os.WriteFile(mountinfo, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		dir, source, fstype string
	}{
		{"/home/me/.computemesh", "/dev/nvme0n1p2", "ext4"},
		{"/", "/dev/nvme0n1p2", "ext4"},
		{"/data/node", "tmpfs", "tmpfs"}, // the last of stacked mounts
		{"/database", "/dev/nvme0n1p2", "ext4"},
		{"/mnt/my disk/node", "/dev/sdb1", "ext4"},
		{"/srv/x", "host:/export", "nfs4"},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			t.Parallel()
			src, fst, err := mountOf(mountinfo, tt.dir)
			if err != nil || src != tt.source || fst != tt.fstype {
				t.Errorf("mountOf(%s) = %q, %q, %v; want %q, %q", tt.dir, src, fst, err, tt.source, tt.fstype)
			}
		})
	}
	if _, _, err := mountOf(mountinfo, "relative/dir"); err == nil {
		t.Error("mountOf of a relative dir: want an error")
	}
}

func TestProbeReadMeminfo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, content string
		want          meminfo
		err           string
	}{
		{"both", "MemTotal:       24684084 kB\nMemFree:  1 kB\nMemAvailable:   23910084 kB\n", meminfo{24684084 << 10, 23910084 << 10}, ""},
		{"no MemAvailable", "MemTotal: 1024 kB\n", meminfo{total: 1 << 20}, ""},
		{"no MemTotal", "MemFree: 1 kB\n", meminfo{}, "no MemTotal line"},
		{"not a number", "MemTotal: lots kB\n", meminfo{}, `MemTotal: value " lots kB": strconv.ParseUint`},
		{"other unit", "MemTotal: 12 MB\n", meminfo{}, "is not a number of kB"},
		{"overflow", "MemTotal: 18446744073709551615 kB\n", meminfo{}, "value out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := filepath.Join(t.TempDir(), "meminfo")
			if err := os.WriteFile(p, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := readMeminfo(p)
			if tt.err == "" && (err != nil || got != tt.want) {
				t.Errorf("readMeminfo = %+v, %v; want %+v", got, err, tt.want)
			}
			if tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("readMeminfo error %v, want %q", err, tt.err)
			}
		})
	}
}

func TestProbeLookPath(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("executable bits")
	}
	exe := writeScript(t, "nvidia-smi", "exit 0\n")
	plain := t.TempDir()
	if err := os.WriteFile(filepath.Join(plain, "nvidia-smi"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "nvidia-smi"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, want string
	}{
		{"found", exe, filepath.Join(exe, "nvidia-smi")},
		{"first executable wins", strings.Join([]string{plain, dir, exe}, string(os.PathListSeparator)), filepath.Join(exe, "nvidia-smi")},
		{"not executable", plain, ""},
		{"a directory", dir, ""},
		{"empty PATH", "", ""},
		{"empty entries are not the working dir", string(os.PathListSeparator), ""},
		{"relative entries neither", "bin" + string(os.PathListSeparator) + ".", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := lookPath("nvidia-smi", tt.path)
			if got != tt.want || ok != (tt.want != "") {
				t.Errorf("lookPath = %q, %v; want %q", got, ok, tt.want)
			}
		})
	}
}
