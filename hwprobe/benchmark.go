package hwprobe

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/computemesh/computemesh/internal/atomicfile"
)

// Benchmark is a short measure of one CPU core.
type Benchmark struct {
	// HashMBPerSecPerCore is SHA-256 throughput of one goroutine, in
	// MB (10⁶ bytes) a second.
	HashMBPerSecPerCore float64 `json:"hash_mb_s_per_core"`
	// MatmulGFLOPS is a naive blocked float64 matrix multiply (128×128) on
	// one goroutine, in 10⁹ floating-point operations a second.
	MatmulGFLOPS float64   `json:"matmul_gflops"`
	MeasuredAt   time.Time `json:"measured_at"`
	// Cached says the result was read from <data dir>/benchmark.json,
	// measured earlier on the same hardware.
	Cached bool `json:"cached"`
}

const (
	// benchmarkVersion changes with the measurement: a cache of another
	// version is measured again.
	benchmarkVersion = 1
	benchmarkFile    = "benchmark.json"
)

// benchSizes bounds the benchmark: each part stops at its amount of work or
// its time budget, whichever comes first.
type benchSizes struct {
	hashBytes  int64
	hashBudget time.Duration
	matN       int
	matReps    int
	matBudget  time.Duration
}

func defaultBenchSizes() benchSizes {
	return benchSizes{hashBytes: 64 << 20, hashBudget: 200 * time.Millisecond,
		matN: 128, matReps: 64, matBudget: 150 * time.Millisecond}
}

// benchmarkCache is the file <data dir>/benchmark.json.
type benchmarkCache struct {
	Version     int       `json:"version"`
	Fingerprint string    `json:"fingerprint"`
	Benchmark   Benchmark `json:"benchmark"`
}

// fingerprint identifies the hardware a benchmark ran on: OS and
// architecture, CPU vendor, model, threads and flags, memory in whole GiB and
// the GPUs' models.
func fingerprint(r Report) string {
	h := sha256.New()
	mem := r.Memory.PhysicalBytes
	if mem == 0 {
		mem = r.Memory.UsableBytes
	}
	fmt.Fprintf(h, "v%d\n%s/%s\n%s\n%s\n%d threads\n%s\n%d GiB\n", benchmarkVersion, r.OS, r.Arch,
		r.CPU.Vendor, r.CPU.Model, r.CPU.Threads, strings.Join(r.CPU.Flags, " "), mem>>30)
	gpus := make([]string, 0, len(r.GPUs))
	for _, g := range r.GPUs {
		gpus = append(gpus, g.VendorID+" "+g.Model)
	}
	slices.Sort(gpus)
	fmt.Fprintf(h, "%s\n", strings.Join(gpus, "\n"))
	return hex.EncodeToString(h.Sum(nil))
}

// cachedBenchmark returns the benchmark cached for this fingerprint in the
// data dir, else measures it and caches it there.
func cachedBenchmark(ctx context.Context, c *config, fp string, n *notes) Benchmark {
	var path string
	if c.dataDir != "" {
		path = filepath.Join(c.dataDir, benchmarkFile)
		cached, err := readBenchmarkCache(path)
		switch {
		case err == nil && cached.Version == benchmarkVersion && cached.Fingerprint == fp:
			b := cached.Benchmark
			b.Cached = true
			return b
		case err != nil && !errors.Is(err, fs.ErrNotExist):
			n.add("benchmark: ignoring the cache: %v; measured again", err)
		}
	}
	b, err := measure(ctx, c.bench)
	if err != nil {
		n.add("benchmark: cut short: %v", err)
		return b
	}
	if path != "" {
		if err := writeBenchmarkCache(path, benchmarkCache{Version: benchmarkVersion, Fingerprint: fp, Benchmark: b}); err != nil {
			n.add("benchmark: not cached: %v", err)
		}
	}
	return b
}

func readBenchmarkCache(path string) (benchmarkCache, error) {
	var bc benchmarkCache
	b, err := os.ReadFile(path)
	if err != nil {
		return bc, fmt.Errorf("reading benchmark cache: %w", err)
	}
	if err := json.Unmarshal(b, &bc); err != nil {
		return bc, fmt.Errorf("decoding benchmark cache %s: %w", path, err)
	}
	return bc, nil
}

// writeBenchmarkCache writes the cache atomically and durably (package
// atomicfile), creating the data dir if need be.
func writeBenchmarkCache(path string, bc benchmarkCache) error {
	data, err := json.MarshalIndent(bc, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding benchmark cache: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating data dir: %w", err)
	}
	if err := atomicfile.WriteFile(path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("benchmark cache: %w", err)
	}
	return nil
}

// measure runs the benchmark now.
func measure(ctx context.Context, s benchSizes) (Benchmark, error) {
	b := Benchmark{MeasuredAt: time.Now().UTC().Truncate(time.Second)}
	var err error
	if b.HashMBPerSecPerCore, err = hashRate(ctx, s.hashBytes, s.hashBudget); err != nil {
		return b, err
	}
	b.MatmulGFLOPS, err = matmulRate(ctx, s.matN, s.matReps, s.matBudget)
	return b, err
}

// hashRate hashes up to total bytes with SHA-256 on this goroutine, for at
// most budget, and returns MB/s.
func hashRate(ctx context.Context, total int64, budget time.Duration) (float64, error) {
	buf := make([]byte, 1<<20)
	for i := range buf {
		buf[i] = byte(i * 131)
	}
	h := sha256.New()
	var done int64
	start := time.Now()
	for done < total && (done == 0 || time.Since(start) < budget) {
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("hashing: %w", err)
		}
		h.Write(buf)
		done += int64(len(buf))
	}
	_ = h.Sum(nil)
	return round1(float64(done) / 1e6 / time.Since(start).Seconds()), nil
}

// matmulRate multiplies two n×n float64 matrices up to reps times on this
// goroutine, for at most budget, and returns GFLOPS (2n³ operations a
// multiply).
func matmulRate(ctx context.Context, n, reps int, budget time.Duration) (float64, error) {
	a, b, c := make([]float64, n*n), make([]float64, n*n), make([]float64, n*n)
	for i := range a {
		a[i] = float64(i%7) * 0.5
		b[i] = float64(i%5) * 0.25
	}
	var done int
	start := time.Now()
	for done < reps && (done == 0 || time.Since(start) < budget) {
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("multiplying matrices: %w", err)
		}
		matmul(c, a, b, n)
		done++
	}
	elapsed := time.Since(start).Seconds()
	if math.IsNaN(c[n*n-1]) { // keeps the work observable
		return 0, errors.New("multiplying matrices: NaN")
	}
	return round1(2 * float64(n) * float64(n) * float64(n) * float64(done) / elapsed / 1e9), nil
}

// matmul sets c = a×b for n×n row-major matrices, in 32×32 blocks.
func matmul(c, a, b []float64, n int) {
	const bs = 32
	clear(c)
	for ii := 0; ii < n; ii += bs {
		for kk := 0; kk < n; kk += bs {
			for jj := 0; jj < n; jj += bs {
				iEnd, kEnd, jEnd := min(ii+bs, n), min(kk+bs, n), min(jj+bs, n)
				for i := ii; i < iEnd; i++ {
					ci := c[i*n+jj : i*n+jEnd]
					for k := kk; k < kEnd; k++ {
						aik := a[i*n+k]
						bk := b[k*n+jj : k*n+jEnd]
						for j := range ci {
							ci[j] += aik * bk[j]
						}
					}
				}
			}
		}
	}
}

// round1 rounds to one decimal, or to three significant digits for rates
// under 10 (a machine loaded or instrumented enough to measure 0.04 GFLOPS
// must not report 0).
func round1(x float64) float64 {
	if x <= 0 || x >= 10 {
		return math.Round(x*10) / 10
	}
	scale := math.Pow(10, 2-math.Floor(math.Log10(x)))
	return math.Round(x*scale) / scale
}
