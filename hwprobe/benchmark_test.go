package hwprobe

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestProbeBenchmarkCache: a benchmark is measured once per hardware and
// reused from <data dir>/benchmark.json until the hardware (the fixture)
// changes or the cache is unusable. The steps run in order on one data dir.
func TestProbeBenchmarkCache(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("ghw reads /proc and /sys trees on Linux only")
	}
	laptop, server := fixture(t, "laptop"), fixture(t, "server-8xh100")
	dataDir := filepath.Join(t.TempDir(), "not-yet-created")
	cache := filepath.Join(dataDir, benchmarkFile)
	var first Benchmark
	probe := func(root string) Report {
		return Probe(context.Background(), WithRoot(root), WithPath(""), WithDataDir(dataDir), smallBench())
	}
	steps := []struct {
		name    string
		prepare func(t *testing.T)
		root    string
		cached  bool
		note    string // a note to expect, besides the fixture's own
		check   func(t *testing.T, b Benchmark)
	}{
		{
			name: "first probe measures and creates the data dir", root: laptop,
			note: "storage: " + dataDir + " does not exist yet; measured ",
			check: func(t *testing.T, b Benchmark) {
				if b.HashMBPerSecPerCore <= 0 || b.MatmulGFLOPS <= 0 || b.MeasuredAt.IsZero() {
					t.Errorf("benchmark %+v: want rates and a time", b)
				}
				first = b
			},
		},
		{
			name: "same hardware reuses the cache", root: laptop, cached: true,
			check: func(t *testing.T, b Benchmark) {
				b.Cached = false
				if b != first {
					t.Errorf("cached %+v, want the first %+v", b, first)
				}
			},
		},
		{
			name: "other hardware measures again", root: server,
			check: func(t *testing.T, b Benchmark) {
				bc, err := readBenchmarkCache(cache)
				if err != nil || bc.Benchmark != b {
					t.Errorf("cache %+v (%v), want the new measure %+v", bc, err, b)
				}
			},
		},
		{name: "and is then cached for it", root: server, cached: true},
		{
			name: "a cache of another version is measured again", root: server,
			prepare: func(t *testing.T) {
				bc, err := readBenchmarkCache(cache)
				if err != nil {
					t.Fatal(err)
				}
				bc.Version++
				writeJSON(t, cache, bc)
			},
		},
		{
			name: "a corrupt cache is noted and measured again", root: server,
			prepare: func(t *testing.T) {
				if err := os.WriteFile(cache, []byte("{not json"), 0o600); err != nil {
					t.Fatal(err)
				}
			},
			note: "benchmark: ignoring the cache: decoding benchmark cache ",
		},
		{name: "the rewritten cache is used", root: server, cached: true},
	}
	fixtureNotes := map[string][]string{server: {"gpu: left out the display-only controller", "gpu: nvidia-smi not found"}}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if s.prepare != nil {
				s.prepare(t)
			}
			r := probe(s.root)
			if r.Benchmark == nil {
				t.Fatal("no benchmark")
			}
			if r.Benchmark.Cached != s.cached {
				t.Errorf("Cached %v, want %v", r.Benchmark.Cached, s.cached)
			}
			want := append([]string{}, fixtureNotes[s.root]...)
			if s.note != "" {
				want = append(want, s.note)
			}
			checkNotes(t, r.Notes, want)
			if s.check != nil {
				s.check(t, *r.Benchmark)
			}
		})
	}
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestProbeFingerprint(t *testing.T) {
	t.Parallel()
	base := Report{OS: "linux", Arch: "amd64",
		CPU:    CPU{Vendor: "GenuineIntel", Model: "Xeon", Threads: 8, Flags: []string{"avx2"}},
		Memory: Memory{UsableBytes: 31 << 30, PhysicalBytes: 32 << 30, AvailableBytes: 20 << 30},
		GPUs:   []GPU{{VendorID: "0x10de", Model: "H100"}, {VendorID: "0x10de", Model: "A100"}},
	}
	tests := []struct {
		name   string
		change func(r *Report)
		same   bool
	}{
		{"available memory moves", func(r *Report) { r.Memory.AvailableBytes = 1 }, true},
		{"usable memory moves", func(r *Report) { r.Memory.UsableBytes -= 64 << 20 }, true},
		{"GPUs in another order", func(r *Report) { r.GPUs[0], r.GPUs[1] = r.GPUs[1], r.GPUs[0] }, true},
		{"storage and notes", func(r *Report) { r.Storage, r.Notes = &Storage{FreeBytes: 1}, []string{"x"} }, true},
		{"CPU model", func(r *Report) { r.CPU.Model = "Epyc" }, false},
		{"threads", func(r *Report) { r.CPU.Threads = 16 }, false},
		{"flags", func(r *Report) { r.CPU.Flags = []string{"avx2", "avx512f"} }, false},
		{"memory installed", func(r *Report) { r.Memory.PhysicalBytes = 64 << 30 }, false},
		{"a GPU less", func(r *Report) { r.GPUs = r.GPUs[:1] }, false},
		{"another GPU", func(r *Report) { r.GPUs[1].Model = "L4" }, false},
		{"architecture", func(r *Report) { r.Arch = "arm64" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := base
			r.GPUs = append([]GPU{}, base.GPUs...)
			tt.change(&r)
			if same := fingerprint(r) == fingerprint(base); same != tt.same {
				t.Errorf("same fingerprint %v, want %v", same, tt.same)
			}
		})
	}
}

// TestProbeBenchmarkTime: the benchmark is bounded by its time budgets, not
// by its work (how long the default one takes belongs in BenchmarkProbe).
func TestProbeBenchmarkTime(t *testing.T) {
	start := time.Now()
	b, err := measure(context.Background(), defaultBenchSizes())
	elapsed := time.Since(start)
	if err != nil || b.HashMBPerSecPerCore <= 0 || b.MatmulGFLOPS <= 0 {
		t.Fatalf("measure: %+v, %v", b, err)
	}
	t.Logf("%v: sha256 %.1f MB/s, matmul %.1f GFLOPS", elapsed, b.HashMBPerSecPerCore, b.MatmulGFLOPS)

	// A terabyte to hash and a billion multiplications: days of work that
	// only the budgets end (a benchmark that ignored them would run into
	// the test's timeout).
	huge := benchSizes{hashBytes: 1 << 40, hashBudget: 50 * time.Millisecond, matN: 128, matReps: 1 << 30, matBudget: 50 * time.Millisecond}
	if b, err := measure(context.Background(), huge); err != nil || b.HashMBPerSecPerCore <= 0 || b.MatmulGFLOPS <= 0 {
		t.Fatalf("measure with budgets: %+v, %v", b, err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := measure(ctx, defaultBenchSizes()); err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Errorf("measure with a cancelled context: %v, want context canceled", err)
	}
}

func TestProbeMatmul(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 3, 32, 33, 70} {
		a, b, c := make([]float64, n*n), make([]float64, n*n), make([]float64, n*n)
		for i := range a {
			a[i], b[i] = float64(i%7), float64(i%5)-2
		}
		matmul(c, a, b, n)
		for i := range n {
			for j := range n {
				var want float64
				for k := range n {
					want += a[i*n+k] * b[k*n+j]
				}
				if c[i*n+j] != want {
					t.Fatalf("n=%d: c[%d][%d] = %v, want %v", n, i, j, c[i*n+j], want)
				}
			}
		}
	}
}

func TestProbeChallenge(t *testing.T) {
	t.Parallel()
	a1, d1 := Challenge([]byte("computemesh"))
	a2, _ := Challenge([]byte("computemesh"))
	if a1 != a2 {
		t.Fatalf("same seed, answers %x and %x", a1, a2)
	}
	if d1 <= 0 {
		t.Errorf("elapsed %v", d1)
	}
	// Pinned: a change of the chain changes every answer, and verifiers on
	// other versions would reject honest providers.
	if got, want := hex.EncodeToString(a1[:]), challengeVector; got != want {
		t.Errorf("answer for seed \"computemesh\" %s, want %s", got, want)
	}
	tests := []struct {
		name string
		seed []byte
	}{
		{"other seed", []byte("computemesh2")},
		{"empty seed", nil},
		{"seed of the domain's bytes", []byte(challengeDomain)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, _ := Challenge(tt.seed)
			if a == a1 {
				t.Errorf("seed %q answers as \"computemesh\"", tt.seed)
			}
			if !VerifyChallenge(tt.seed, a) {
				t.Errorf("VerifyChallenge rejects the answer for %q", tt.seed)
			}
			if VerifyChallenge(tt.seed, a1) {
				t.Errorf("VerifyChallenge accepts another seed's answer for %q", tt.seed)
			}
		})
	}
	if got := challengeChain([]byte("computemesh"), 0); got == a1 {
		t.Error("a chain of no links answers as a full one")
	}
}

// challengeVector is the answer for the seed "computemesh", computed independently
// (Python's hashlib) from the definition in Challenge's documentation.
const challengeVector = "75c7eed9ca2a4ce8b258e73063890d765b419e142b1c36a075215a8f7fac01a6"
