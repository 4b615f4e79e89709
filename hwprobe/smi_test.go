package hwprobe

import (
	"reflect"
	"strings"
	"testing"
)

func TestProbeParseNvidiaSMI(t *testing.T) {
	t.Parallel()
	h100 := toolGPU{name: "NVIDIA H100 80GB HBM3", vramBytes: 81559 << 20, driverVersion: "550.54.15", busID: "0000:17:00.0"}
	tests := []struct {
		name     string
		out      string
		want     []toolGPU
		problems []string // each a prefix of the problem at its place
		err      string
	}{
		{name: "empty output", out: ""},
		{name: "one GPU", out: "0, NVIDIA H100 80GB HBM3, 81559, 550.54.15, 00000000:17:00.0\n", want: []toolGPU{h100}},
		{
			name: "odd spacing, CRLF, no final newline",
			out:  "  0 ,NVIDIA H100 80GB HBM3 ,81559,  550.54.15,00000000:17:00.0 \r\n\r\n1,NVIDIA H100 80GB HBM3,81559,550.54.15,0000:18:00.0",
			want: []toolGPU{h100, {name: "NVIDIA H100 80GB HBM3", vramBytes: 81559 << 20, driverVersion: "550.54.15", busID: "0000:18:00.0"}},
		},
		{
			name: "[N/A] and [Not Supported] fields",
			out:  "0, [N/A], [N/A], [Not Supported], [N/A]\n",
			want: []toolGPU{{}},
		},
		{
			name: "units left on and a fractional MiB",
			out:  "0, Tesla T4, 15360 MiB, 535.104.05, 00000000:3B:00.0\n1, Tesla T4, 15360.5, 535.104.05, 00000000:AF:00.0\n",
			want: []toolGPU{
				{name: "Tesla T4", vramBytes: 15360 << 20, driverVersion: "535.104.05", busID: "0000:3b:00.0"},
				{name: "Tesla T4", vramBytes: 15360<<20 + 1<<19, driverVersion: "535.104.05", busID: "0000:af:00.0"},
			},
		},
		{
			name: "a name with a comma is kept whole",
			out:  "0, Acme GPU, rev 2, 1024, 1.0, 0000:01:00.0\n",
			want: []toolGPU{{name: "Acme GPU, rev 2", vramBytes: 1 << 30, driverVersion: "1.0", busID: "0000:01:00.0"}},
		},
		{
			name:     "a warning line among GPUs",
			out:      "WARNING: infoROM is corrupted at gpu 0000:17:00.0\n0, NVIDIA H100 80GB HBM3, 81559, 550.54.15, 00000000:17:00.0\n",
			want:     []toolGPU{h100},
			problems: []string{`line 1: "WARNING: infoROM is corrupted at gpu 0000:17:00.0": want 5 comma-separated fields`},
		},
		{
			name:     "a line of five fields that is no GPU",
			out:      "Note, this, is, not, data\n",
			problems: []string{`line 1: "Note, this, is, not, data": index "Note" is not a number`},
			err:      "no GPU in the output",
		},
		{
			name:     "bad memory and bus are problems, the GPU stays",
			out:      "0, NVIDIA L4, lots, 550.54.15, 0000:zz:00.0\n",
			want:     []toolGPU{{name: "NVIDIA L4", driverVersion: "550.54.15"}},
			problems: []string{`line 1: memory.total: "lots" is not a number of MiB`, `line 1: pci.bus_id: PCI address "0000:zz:00.0"`},
		},
		{
			name:     "negative memory",
			out:      "0, NVIDIA L4, -1, 550.54.15, 0000:01:00.0\n",
			want:     []toolGPU{{name: "NVIDIA L4", driverVersion: "550.54.15", busID: "0000:01:00.0"}},
			problems: []string{`line 1: memory.total: "-1" MiB is out of range`},
		},
		{
			name:     "only an error message",
			out:      "No devices were found\n",
			problems: []string{`line 1: "No devices were found": want 5 comma-separated fields`},
			err:      "no GPU in the output",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, problems, err := parseNvidiaSMI([]byte(tt.out))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("GPUs\n got %+v\nwant %+v", got, tt.want)
			}
			checkPrefixes(t, problems, tt.problems)
			if errString(err) != tt.err {
				t.Errorf("error %v, want %q", err, tt.err)
			}
		})
	}
}

func TestProbeParseRocmSMI(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		out      string
		want     []toolGPU
		problems []string
		err      string
	}{
		{
			name: "two cards in card order, warnings around, system key ignored",
			out: "WARNING: low-power state\n" +
				`{"card10": {"Card Series": "AMD Instinct MI300X", "VRAM Total Memory (B)": "206141652992", "PCI Bus": "0000:1B:00.0"},` +
				` "card2": {"Card series": "AMD Instinct MI300X", "VRAM Total Memory (B)": 206141652992, "PCI Bus": "0000:0c:00.0"},` +
				` "system": {"Driver version": "6.8.5"}}` + "\n===== End of ROCm SMI Log =====\n",
			want: []toolGPU{
				{name: "AMD Instinct MI300X", vramBytes: 206141652992, busID: "0000:0c:00.0"},
				{name: "AMD Instinct MI300X", vramBytes: 206141652992, busID: "0000:1b:00.0"},
			},
		},
		{
			name: "older key names and N/A",
			out:  `{"card0": {"Card series": "N/A", "Card model": "0x74a1", "VRAM Total Memory (B)": "N/A"}}`,
			want: []toolGPU{{name: "0x74a1"}},
		},
		{
			name:     "bad VRAM and bus",
			out:      `{"card0": {"Device Name": "Radeon", "VRAM Total Memory (B)": "many", "PCI Bus": "nowhere"}}`,
			want:     []toolGPU{{name: "Radeon"}},
			problems: []string{`card0: VRAM "many" is not a number of bytes`, `card0: PCI address "nowhere"`},
		},
		{name: "no JSON", out: "ERROR: no GPUs\n", err: "no JSON object in the output"},
		{name: "broken JSON", out: `{"card0": {`, err: "no JSON object in the output"},
		{name: "JSON of another shape", out: `{"card0": "Radeon"}`, err: "decoding the output: json: cannot unmarshal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, problems, err := parseRocmSMI([]byte(tt.out))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("GPUs\n got %+v\nwant %+v", got, tt.want)
			}
			checkPrefixes(t, problems, tt.problems)
			if !strings.HasPrefix(errString(err), tt.err) || (tt.err == "") != (err == nil) {
				t.Errorf("error %v, want %q", err, tt.err)
			}
		})
	}
}

func TestProbeNormalizeBusID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string // want "" for an error
	}{
		{"00000000:17:00.0", "0000:17:00.0"}, // nvidia-smi
		{"0000:17:00.0", "0000:17:00.0"},     // sysfs, rocm-smi
		{"17:00.0", "0000:17:00.0"},          // no domain
		{" 0000:AB:1F.7\n", "0000:ab:1f.7"},
		{"00000001:03:00.1", "0001:03:00.1"},
		{"10000:e1:00.0", "10000:e1:00.0"}, // Intel VMD domains pass 16 bits
		{"", ""},
		{"17:00", ""},
		{"0000:17:20.0", ""}, // device > 0x1f
		{"0000:17:00.8", ""}, // function > 7
		{"0000:100:00.0", ""},
		{"x:17:00.0", ""},
		{"0:0:17:00.0", ""},
		{"000000000:17:00.0", ""}, // domain over 32 bits
		{"[N/A]", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := normalizeBusID(tt.in)
			if got != tt.want || (err != nil) != (tt.want == "") {
				t.Errorf("normalizeBusID(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
			if err == nil {
				if again, err := normalizeBusID(got); again != got || err != nil {
					t.Errorf("not idempotent: %q -> %q, %v", got, again, err)
				}
			}
		})
	}
}

func TestProbeMergeToolGPUs(t *testing.T) {
	t.Parallel()
	bus := func(addr string) GPU {
		return GPU{Vendor: "NVIDIA", VendorID: "0x10de", Model: "GH100", PCIAddress: addr, Source: SourceGHW}
	}
	tests := []struct {
		name  string
		gpus  []GPU
		found []toolGPU
		want  []GPU
		added int
	}{
		{
			name:  "refined by address, not by order",
			gpus:  []GPU{bus("0000:17:00.0"), bus("0000:18:00.0")},
			found: []toolGPU{{name: "H100", vramBytes: 1, busID: "0000:18:00.0"}},
			want: []GPU{bus("0000:17:00.0"), {Vendor: "NVIDIA", VendorID: "0x10de", Model: "H100", VRAMBytes: 1,
				PCIAddress: "0000:18:00.0", Source: "ghw+nvidia-smi"}},
		},
		{
			name:  "without addresses, in order among the vendor's GPUs",
			gpus:  []GPU{{VendorID: "0x8086", Model: "iGPU"}, bus("0000:17:00.0")},
			found: []toolGPU{{name: "H100"}},
			want: []GPU{{VendorID: "0x8086", Model: "iGPU"}, {Vendor: "NVIDIA", VendorID: "0x10de", Model: "H100",
				PCIAddress: "0000:17:00.0", Source: "ghw+nvidia-smi"}},
		},
		{
			name:  "added when the bus did not show it",
			gpus:  []GPU{},
			found: []toolGPU{{name: "A100", busID: "0000:07:00.0"}, {name: "A100"}},
			want: []GPU{
				{Vendor: "NVIDIA", VendorID: "0x10de", Model: "A100", PCIAddress: "0000:07:00.0", Source: "nvidia-smi"},
				{Vendor: "NVIDIA", VendorID: "0x10de", Model: "A100", Source: "nvidia-smi"},
			},
			added: 2,
		},
		{
			name:  "unknown fields keep what the bus said",
			gpus:  []GPU{bus("0000:17:00.0")},
			found: []toolGPU{{busID: "0000:17:00.0"}, {busID: "0000:17:00.0", driverVersion: "1"}},
			want: []GPU{{Vendor: "NVIDIA", VendorID: "0x10de", Model: "GH100", DriverVersion: "1",
				PCIAddress: "0000:17:00.0", Source: "ghw+nvidia-smi"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, added := mergeToolGPUs(tt.gpus, tt.found, "nvidia-smi", vendorNVIDIA)
			if !reflect.DeepEqual(got, tt.want) || added != tt.added {
				t.Errorf("got %d added\n%+v\nwant %d added\n%+v", added, got, tt.added, tt.want)
			}
		})
	}
}

func FuzzParseNvidiaSMI(f *testing.F) {
	for _, s := range []string{
		"0, NVIDIA H100 80GB HBM3, 81559, 550.54.15, 00000000:17:00.0\n",
		"0, [N/A], [N/A], [N/A], [N/A]",
		"1,a,b,c,d,e,f\r\n",
		"0, x, 1e300, 1, 17:00.0",
		"0, x, NaN, 1, 0:0:0.0",
		"No devices were found",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, out []byte) {
		gpus, problems, err := parseNvidiaSMI(out)
		if err != nil && len(gpus) > 0 {
			t.Errorf("error %v with %d GPUs", err, len(gpus))
		}
		if err != nil && len(problems) == 0 {
			t.Errorf("error %v without a problem named", err)
		}
		for _, g := range gpus {
			if g.busID != "" {
				if again, err := normalizeBusID(g.busID); err != nil || again != g.busID {
					t.Errorf("bus ID %q not normalized: %q, %v", g.busID, again, err)
				}
			}
			if g.vramBytes >= 1<<63 {
				t.Errorf("VRAM %d out of range", g.vramBytes)
			}
			if strings.ContainsAny(g.name+g.driverVersion, "\n") {
				t.Errorf("field spans lines: %+v", g)
			}
		}
	})
}

// checkPrefixes wants got[i] to start with want[i], as many as want.
func checkPrefixes(t *testing.T, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("problems %q, want %d: %q", got, len(want), want)
		return
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("problem %d %q, want prefix %q", i, got[i], want[i])
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
