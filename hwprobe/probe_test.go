package hwprobe

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func h100(bus string) GPU {
	return GPU{Vendor: "NVIDIA", VendorID: "0x10de", DeviceID: "0x2330", Model: "NVIDIA H100 80GB HBM3",
		VRAMBytes: 81559 << 20, Driver: "nvidia", DriverVersion: "550.54.15",
		PCIAddress: "0000:" + bus + ":00.0", Source: "ghw+nvidia-smi"}
}

func a100(bus string) GPU {
	return GPU{Vendor: "NVIDIA", VendorID: "0x10de", Model: "NVIDIA A100-SXM4-40GB",
		VRAMBytes: 40960 << 20, DriverVersion: "535.129.03", PCIAddress: "0000:" + bus + ":00.0", Source: "nvidia-smi"}
}

// TestProbeFixtures probes directory trees of whole machines through the
// production code path (ghw's chroot), with fake tools on a PATH of their
// own.
func TestProbeFixtures(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("ghw reads /proc and /sys trees on Linux only")
	}
	bin := func(root string) string { return filepath.Join(root, "bin") }
	none := func(string) string { return "" }
	laptopCPU := CPU{Vendor: "GenuineIntel", Model: "12th Gen Intel(R) Core(TM) i7-1260P", Cores: 2, Threads: 4,
		Flags: []string{"aes", "avx", "avx2", "avx_vnni", "f16c", "fma", "sha_ni", "sse4_2", "vaes"}}
	serverCPU := CPU{Vendor: "GenuineIntel", Model: "Intel(R) Xeon(R) Platinum 8480+", Cores: 4, Threads: 8,
		Flags: []string{"aes", "amx_bf16", "amx_int8", "amx_tile", "avx", "avx2", "avx512_bf16", "avx512_fp16",
			"avx512bw", "avx512cd", "avx512dq", "avx512f", "avx512vl", "avx_vnni", "f16c", "fma", "sha_ni", "sse4_2", "vaes"}}
	serverMem := Memory{UsableBytes: 2113265784 << 10, PhysicalBytes: 2 << 40, AvailableBytes: 2080374784 << 10}
	var h100s []GPU
	for _, bus := range []string{"18", "2a", "3a", "5d", "9a", "ab", "ba", "db"} {
		h100s = append(h100s, h100(bus))
	}
	h100sBare := slices.Clone(h100s)
	for i := range h100sBare {
		h100sBare[i].Model, h100sBare[i].VRAMBytes, h100sBare[i].Source = "GH100 [H100 SXM5 80GB]", 0, "ghw"
	}
	aspeed := "gpu: left out the display-only controller ASPEED (BMC) 1a03:2000 at 0000:03:00.0"
	radeon := GPU{Vendor: "AMD", VendorID: "0x1002", DeviceID: "0x744c", Model: "Radeon RX 7900 XTX",
		VRAMBytes: 25753026560, Driver: "amdgpu", PCIAddress: "0000:03:00.0", Source: "ghw+rocm-smi"}
	radeonBare := radeon
	radeonBare.Model, radeonBare.Source = "Navi 31 [Radeon RX 7900 XT/7900 XTX/7900 GRE/7900M]", "ghw"

	tests := []struct {
		name, fixture string
		path          func(root string) string // for WithPath; nil: no WithPath
		cpu           CPU
		mem           Memory
		gpus          []GPU
		device        string // storage device and file system, "" for none
		fstype        string
		notes         []string // each must be part of one note, and every note matched
	}{
		{
			name: "laptop without GPU tools", fixture: "laptop", path: none,
			cpu: laptopCPU,
			mem: Memory{UsableBytes: 16011612 << 10, PhysicalBytes: 16 << 30, AvailableBytes: 11534336 << 10},
			gpus: []GPU{{Vendor: "Intel", VendorID: "0x8086", DeviceID: "0x46a6", Model: "Alder Lake-P GT2 [Iris Xe Graphics]",
				Driver: "i915", PCIAddress: "0000:00:02.0", Source: "ghw"}},
			device: "/dev/nvme0n1p2", fstype: "ext4",
		},
		{
			name: "server with 8 H100 and nvidia-smi", fixture: "server-8xh100", path: bin,
			cpu: serverCPU, mem: serverMem, gpus: h100s, device: "/dev/md0", fstype: "xfs",
			notes: []string{aspeed},
		},
		{
			name: "server with 8 H100 without nvidia-smi", fixture: "server-8xh100", path: none,
			cpu: serverCPU, mem: serverMem, gpus: h100sBare, device: "/dev/md0", fstype: "xfs",
			notes: []string{aspeed, "gpu: nvidia-smi not found on the PATH; VRAM and driver version of NVIDIA GPUs unknown"},
		},
		{
			name: "server tree without a PATH runs no tools", fixture: "server-8xh100",
			cpu: serverCPU, mem: serverMem, gpus: h100sBare, device: "/dev/md0", fstype: "xfs",
			notes: []string{aspeed, "gpu: nvidia-smi and rocm-smi not run: probing the tree at "},
		},
		{
			name: "AMD GPU with rocm-smi", fixture: "amd-gpu", path: bin,
			cpu: CPU{Vendor: "AuthenticAMD", Model: "AMD Ryzen 9 7950X 16-Core Processor", Cores: 2, Threads: 4,
				Flags: []string{"aes", "avx", "avx2", "avx512_bf16", "avx512bw", "avx512cd", "avx512dq", "avx512f", "avx512vl", "f16c", "fma", "sha_ni", "sse4_2", "vaes"}},
			mem:  Memory{UsableBytes: 65536000 << 10, PhysicalBytes: 65536000 << 10, AvailableBytes: 60000000 << 10},
			gpus: []GPU{radeon}, device: "/dev/nvme1n1p1", fstype: "btrfs",
			notes: []string{"memory: ghw could not read the installed size from "},
		},
		{
			name: "AMD GPU without rocm-smi: VRAM from amdgpu's sysfs", fixture: "amd-gpu", path: none,
			cpu: CPU{Vendor: "AuthenticAMD", Model: "AMD Ryzen 9 7950X 16-Core Processor", Cores: 2, Threads: 4,
				Flags: []string{"aes", "avx", "avx2", "avx512_bf16", "avx512bw", "avx512cd", "avx512dq", "avx512f", "avx512vl", "f16c", "fma", "sha_ni", "sse4_2", "vaes"}},
			mem:  Memory{UsableBytes: 65536000 << 10, PhysicalBytes: 65536000 << 10, AvailableBytes: 60000000 << 10},
			gpus: []GPU{radeonBare}, device: "/dev/nvme1n1p1", fstype: "btrfs",
			notes: []string{"memory: ghw could not read the installed size from "},
		},
		{
			name: "no PCI ID database", fixture: "no-pcidb", path: none,
			cpu: CPU{Vendor: "AuthenticAMD", Model: "AMD Ryzen 7 5800X 8-Core Processor", Cores: 2, Threads: 2,
				Flags: []string{"aes", "avx", "avx2", "f16c", "fma", "sha_ni", "sse4_2", "vaes"}},
			mem: Memory{UsableBytes: 32768000 << 10, PhysicalBytes: 32 << 30, AvailableBytes: 30000000 << 10},
			gpus: []GPU{{Vendor: "NVIDIA", VendorID: "0x10de", DeviceID: "0x2684", Model: "PCI device 10de:2684",
				PCIAddress: "0000:2b:00.0", Source: "sysfs"}},
			notes: []string{
				"gpu: ghw: no PCI ID database; vendor names from the built-in table, models as PCI IDs (no pci.ids in ",
				"gpu: nvidia-smi not found on the PATH",
				"storage: device unknown: reading mountinfo: ",
			},
		},
		{
			name: "headless host: nvidia-smi adds GPUs the bus does not show", fixture: "headless-2xa100", path: bin,
			cpu: CPU{Vendor: "AuthenticAMD", Model: "AMD EPYC 7763 64-Core Processor", Cores: 2, Threads: 4,
				Flags: []string{"aes", "avx", "avx2", "f16c", "fma", "sha_ni", "sse4_2", "vaes"}},
			mem:   Memory{UsableBytes: 528280000 << 10, PhysicalBytes: 512 << 30, AvailableBytes: 500000000 << 10},
			gpus:  []GPU{a100("07"), a100("0f")},
			notes: []string{"gpu: nvidia-smi lists 2 GPU(s) the PCI bus did not show", "storage: device unknown"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := fixture(t, tt.fixture)
			dataDir := t.TempDir()
			opts := []Option{WithRoot(root), WithDataDir(dataDir), WithoutBenchmark()}
			if tt.path != nil {
				opts = append(opts, WithPath(tt.path(root)))
			}
			r := Probe(context.Background(), opts...)

			if !reflect.DeepEqual(r.CPU, tt.cpu) {
				t.Errorf("CPU\n got %+v\nwant %+v", r.CPU, tt.cpu)
			}
			if r.Memory != tt.mem {
				t.Errorf("Memory\n got %+v\nwant %+v", r.Memory, tt.mem)
			}
			if !reflect.DeepEqual(r.GPUs, tt.gpus) {
				t.Errorf("GPUs: got %d, want %d", len(r.GPUs), len(tt.gpus))
				for i := range max(len(r.GPUs), len(tt.gpus)) {
					var got, want GPU
					if i < len(r.GPUs) {
						got = r.GPUs[i]
					}
					if i < len(tt.gpus) {
						want = tt.gpus[i]
					}
					if got != want {
						t.Errorf("GPU %d\n got %+v\nwant %+v", i, got, want)
					}
				}
			}
			if s := r.Storage; s == nil {
				t.Errorf("Storage nil, want that of %s", dataDir)
			} else {
				if s.DataDir != dataDir || s.TotalBytes == 0 || s.FreeBytes > s.TotalBytes {
					t.Errorf("Storage %+v: want data dir %s, free <= total > 0", *s, dataDir)
				}
				if s.Device != tt.device || s.FSType != tt.fstype {
					t.Errorf("Storage device %q (%q), want %q (%q)", s.Device, s.FSType, tt.device, tt.fstype)
				}
			}
			if want := []string{ExecutorWASM}; !slices.Equal(r.Executors, want) {
				t.Errorf("Executors %q, want %q (no docker socket in the tree)", r.Executors, want)
			}
			if r.Benchmark != nil {
				t.Errorf("Benchmark %+v with WithoutBenchmark", *r.Benchmark)
			}
			if r.OS != runtime.GOOS || r.Arch != runtime.GOARCH {
				t.Errorf("OS/Arch %s/%s, want %s/%s", r.OS, r.Arch, runtime.GOOS, runtime.GOARCH)
			}
			checkNotes(t, r.Notes, tt.notes)
		})
	}
}

// checkNotes wants each of want to be part of a distinct note, and no other
// note.
func checkNotes(t *testing.T, notes, want []string) {
	t.Helper()
	left := slices.Clone(notes)
	for _, w := range want {
		i := slices.IndexFunc(left, func(n string) bool { return strings.Contains(n, w) })
		if i < 0 {
			t.Errorf("no note contains %q", w)
			continue
		}
		left = slices.Delete(left, i, i+1)
	}
	for _, n := range left {
		t.Errorf("unexpected note %q", n)
	}
	if t.Failed() {
		t.Logf("notes:\n  %s", strings.Join(notes, "\n  "))
	}
}

// TestProbeJSON pins the wire names of a report: snake_case, sizes named
// for what they measure.
func TestProbeJSON(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("ghw reads /proc and /sys trees on Linux only")
	}
	root := fixture(t, "server-8xh100")
	r := Probe(context.Background(), WithRoot(root), WithPath(filepath.Join(root, "bin")), WithoutBenchmark())
	r.Benchmark = &Benchmark{HashMBPerSecPerCore: 1500, MatmulGFLOPS: 3.5}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"arch", "benchmark", "cpu", "executors", "gpus", "memory", "notes", "os"}; !slices.Equal(keys, want) {
		t.Errorf("report keys %q, want %q", keys, want)
	}
	tests := []struct {
		key, want string
	}{
		{"memory", `{"usable_bytes":2163984162816,"physical_bytes":2199023255552,"available_bytes":2130303778816}`},
		{"benchmark", `{"hash_mb_s_per_core":1500,"matmul_gflops":3.5,"measured_at":"0001-01-01T00:00:00Z","cached":false}`},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if got := string(m[tt.key]); got != tt.want {
				t.Errorf("%s: %s\nwant %s", tt.key, got, tt.want)
			}
		})
	}
	g, err := json.Marshal(r.GPUs[0])
	if err != nil {
		t.Fatal(err)
	}
	want := `{"vendor":"NVIDIA","vendor_id":"0x10de","device_id":"0x2330","model":"NVIDIA H100 80GB HBM3",` +
		`"vram_bytes":85520809984,"driver":"nvidia","driver_version":"550.54.15","pci_address":"0000:18:00.0","source":"ghw+nvidia-smi"}`
	if string(g) != want {
		t.Errorf("GPU JSON %s\nwant %s", g, want)
	}
}

// TestProbeGHWFallbacks: where ghw cannot read the bus, the bus is read
// directly; it costs the names at worst, never the probe.
func TestProbeGHWFallbacks(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("ghw reads /proc and /sys trees on Linux only")
	}
	iGPU := GPU{Vendor: "Intel", VendorID: "0x8086", DeviceID: "0x46a6", Model: "Alder Lake-P GT2 [Iris Xe Graphics]",
		Driver: "i915", PCIAddress: "0000:00:02.0", Source: "sysfs"}
	unnamed := iGPU
	unnamed.Model = "PCI device 8086:46a6"
	tests := []struct {
		name  string
		spoil func(t *testing.T, root string)
		gpu   GPU
		note  string
	}{
		{
			// A product line before any vendor line: pcidb dereferences a
			// nil vendor.
			name: "a pci.ids that makes the parser panic",
			spoil: func(t *testing.T, root string) {
				writeFile(t, filepath.Join(root, "usr/share/misc/pci.ids"), "\t46a6  orphan\n")
			},
			gpu:  unnamed,
			note: "gpu: ghw: loading the PCI ID database: panic: runtime error: invalid memory address or nil pointer dereference; vendor names from the built-in table",
		},
		{
			// ghw drops the whole bus when one device has no modalias.
			name: "a device without modalias",
			spoil: func(t *testing.T, root string) {
				if err := os.Remove(filepath.Join(root, "sys/bus/pci/devices/0000:00:00.0/modalias")); err != nil {
					t.Fatal(err)
				}
			},
			gpu:  iGPU,
			note: "gpu: ghw read no device of the 2 in ",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := fixture(t, "laptop")
			tt.spoil(t, root)
			r := Probe(context.Background(), WithRoot(root), WithPath(""), WithoutBenchmark())
			if want := []GPU{tt.gpu}; !reflect.DeepEqual(r.GPUs, want) {
				t.Errorf("GPUs %+v\nwant %+v", r.GPUs, want)
			}
			checkNotes(t, r.Notes, []string{tt.note})
		})
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestProbeToolFailure: a tool that fails is named with its message; the
// GPUs the bus shows stay.
func TestProbeToolFailure(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("ghw reads /proc and /sys trees on Linux only")
	}
	tests := []struct {
		name, tool, script, note string
	}{
		{"driver not loaded", "nvidia-smi",
			"echo \"NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\"\nexit 9\n",
			"gpu: running nvidia-smi: exit status 9: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver."},
		{"garbage output", "nvidia-smi", "echo 'No devices were found'\n",
			`gpu: nvidia-smi: line 1: "No devices were found": want 5 comma-separated fields`},
		{"rocm-smi without JSON", "rocm-smi", "echo 'ERROR: GPU[0] : Unable to read'\n",
			"gpu: rocm-smi: no JSON object in the output"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := fixture(t, "server-8xh100")
			path := writeScript(t, tt.tool, tt.script)
			r := Probe(context.Background(), WithRoot(root), WithPath(path), WithoutBenchmark())
			if len(r.GPUs) != 8 {
				t.Errorf("%d GPUs, want the 8 on the bus", len(r.GPUs))
			}
			want := []string{"gpu: left out the display-only controller", tt.note}
			if tt.tool == "rocm-smi" {
				want = append(want, "gpu: nvidia-smi not found on the PATH")
			} else if strings.Contains(tt.note, "want 5") {
				want = append(want, "gpu: nvidia-smi: no GPU in the output")
			}
			checkNotes(t, r.Notes, want)
		})
	}
}

// TestProbeLive probes this machine: it must not fail whatever it runs on.
func TestProbeLive(t *testing.T) {
	r := Probe(context.Background(), WithDataDir(t.TempDir()), smallBench())
	if r.CPU.Threads < 1 || r.CPU.Cores < 1 || r.CPU.Cores > r.CPU.Threads {
		t.Errorf("CPU %+v: want 1 <= cores <= threads", r.CPU)
	}
	if runtime.GOOS == "linux" && (r.Memory.UsableBytes == 0 || r.Memory.AvailableBytes > r.Memory.UsableBytes) {
		t.Errorf("Memory %+v: want available <= usable > 0", r.Memory)
	}
	if r.GPUs == nil || r.Benchmark == nil || r.Storage == nil || !slices.Contains(r.Executors, ExecutorWASM) {
		t.Errorf("report %+v: want GPUs non-nil, benchmark, storage and the wasm executor", r)
	}
	t.Logf("notes: %q", r.Notes)
}

func TestProbeUsableMemory(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc/meminfo")
	}
	m, err := UsableMemory()
	if err != nil || m == 0 {
		t.Fatalf("UsableMemory() = %d, %v; want > 0", m, err)
	}
	mi, err := readMeminfo("/proc/meminfo")
	if err != nil || mi.total != m {
		t.Errorf("UsableMemory() = %d, /proc/meminfo MemTotal %d (%v)", m, mi.total, err)
	}
}
