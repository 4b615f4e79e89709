package market_test

import (
	"math"
	"math/big"
	"math/bits"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/market"
)

func cores(millis int64) job.Resources {
	return job.Resources{CPUMillis: millis, MemoryBytes: 64 << 20}
}

func perHour(c job.Credits) job.Rates { return job.Rates{CPUHour: c} }

func TestPrice(t *testing.T) {
	tests := []struct {
		name    string
		rates   job.Rates
		res     job.Resources
		timeout time.Duration
		want    job.Credits
	}{
		{"1 core at 1/h for 1h is exactly 1 credit", perHour(job.Nano), cores(1000), time.Hour, job.Nano},
		{"1 core at 1/h for 30m", perHour(job.Nano), cores(1000), 30 * time.Minute, job.Nano / 2},
		{"1 core at 0.9/h for 10s is 0.0025", perHour(900_000_000), cores(1000), 10 * time.Second, 2_500_000},
		{"1 core at 0.15/h for 10s rounds 416666.67 up", perHour(150_000_000), cores(1000), 10 * time.Second, 416_667},
		{"1 core at 1/h for 1s rounds 277777.78 up", perHour(job.Nano), cores(1000), time.Second, 277_778},
		{"1 core at 1/h for 1ms rounds 277.78 up", perHour(job.Nano), cores(1000), time.Millisecond, 278},
		{"the smallest cost is one nano-credit", perHour(1), cores(1), time.Nanosecond, 1},
		{"0.5 cpu at 2/h for 1h", perHour(2 * job.Nano), cores(500), time.Hour, job.Nano},
		{"0.5 cpu at 0.9/h for 10s", perHour(900_000_000), cores(500), 10 * time.Second, 1_250_000},
		{"0.001 cpu at 1/h for 1h", perHour(job.Nano), cores(1), time.Hour, 1_000_000},
		{"2.5 cpus at 1.2/h for 1m", perHour(1_200_000_000), cores(2500), time.Minute, 50_000_000},
		{"1024 cores at 1/h for 24h", perHour(job.Nano), cores(job.MaxCPUMillis), job.MaxTimeout, 24 * 1024 * job.Nano},
		{"free rates", perHour(0), cores(4000), time.Hour, 0},
		{"zero timeout", perHour(job.Nano), cores(1000), 0, 0},
		{"memory does not change the price", perHour(job.Nano), job.Resources{CPUMillis: 1000, MemoryBytes: 1 << 40}, time.Hour, job.Nano},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := market.Price(tt.rates, tt.res, tt.timeout)
			if err != nil {
				t.Fatalf("Price: %v", err)
			}
			if got != tt.want {
				t.Fatalf("Price(%s/h, %s, %v) = %d (%s), want %d (%s)", tt.rates.CPUHour, tt.res, tt.timeout, int64(got), got, int64(tt.want), tt.want)
			}
		})
	}
}

func TestPriceErrors(t *testing.T) {
	tests := []struct {
		name    string
		rates   job.Rates
		res     job.Resources
		timeout time.Duration
		wantErr string
	}{
		{"negative rate", perHour(-1), cores(1000), time.Hour, "negative"},
		{"negative cpus", perHour(job.Nano), cores(-1000), time.Hour, "negative"},
		{"negative timeout", perHour(job.Nano), cores(1000), -time.Second, "negative"},
		// rate × millicores does not fit 64 bits.
		{"rate times cpus overflows", perHour(math.MaxInt64), cores(job.MaxCPUMillis), time.Hour, "overflow"},
		{"huge rate", perHour(1_000_000_000_000_000_000), cores(1000), time.Second, "overflow"},
		// rate × millicores × ns does not fit 128 bits ÷ the denominator.
		{"product overflows", perHour(math.MaxInt64 / job.MaxCPUMillis), cores(job.MaxCPUMillis), math.MaxInt64, "overflow"},
		// The quotient fits a uint64 but not an int64.
		{"quotient over MaxInt64", perHour(10_000_000_000_000_000), cores(1000), 4_000_000 * time.Second, "overflow"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := market.Price(tt.rates, tt.res, tt.timeout)
			if err == nil {
				t.Fatalf("Price = %d, want an error containing %q", int64(got), tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Price error = %q, want it to contain %q", err, tt.wantErr)
			}
			if got != 0 {
				t.Fatalf("Price returned %d along with an error", int64(got))
			}
		})
	}
}

// oraclePrice computes ceil(rate × millis × ns / (1000 × 3600e9)) with big
// integers, or ok=false when it does not fit an int64.
func oraclePrice(rate job.Credits, millis int64, d time.Duration) (job.Credits, bool) {
	num := new(big.Int).Mul(big.NewInt(int64(rate)), big.NewInt(millis))
	num.Mul(num, big.NewInt(int64(d)))
	den := big.NewInt(1000 * 3600 * int64(time.Second))
	q, r := new(big.Int).QuoRem(num, den, new(big.Int))
	if r.Sign() != 0 {
		q.Add(q, big.NewInt(1))
	}
	if !q.IsInt64() {
		return 0, false
	}
	return job.Credits(q.Int64()), true
}

func TestPriceMatchesBigIntOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 5000; i++ {
		// Draw magnitudes across the whole range, not just small numbers.
		rate := job.Credits(rng.Int64N(1 << rng.IntN(63)))
		millis := rng.Int64N(job.MaxCPUMillis) + 1
		d := time.Duration(rng.Int64N(1 << rng.IntN(63)))
		got, err := market.Price(perHour(rate), cores(millis), d)
		want, ok := oraclePrice(rate, millis, d)
		if !ok {
			if err == nil {
				t.Fatalf("Price(%d, %d, %d) = %d, but the exact price overflows int64", rate, millis, d, int64(got))
			}
			continue
		}
		// An intermediate product over 64 bits is refused even when the
		// result would fit; anything accepted must be exact.
		if err == nil && got != want {
			t.Fatalf("Price(%d, %d, %d) = %d, want %d", rate, millis, d, int64(got), int64(want))
		}
		if hi, _ := bits.Mul64(uint64(rate), uint64(millis)); err != nil && hi == 0 {
			// rate × millis fits 64 bits, and the price fits an int64:
			// nothing may be refused.
			t.Fatalf("Price(%d, %d, %d): %v, want %d", rate, millis, d, err, int64(want))
		}
	}
}

func TestCharge(t *testing.T) {
	rates := perHour(job.Nano) // 1 credit per core-hour
	res := cores(1000)
	timeout := 10 * time.Second
	price, err := market.Price(rates, res, timeout)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		ran  time.Duration
		want job.Credits
	}{
		{"ran the whole timeout", timeout, price},
		{"ran past the timeout is capped at the price", time.Hour, price},
		{"ran half the timeout", 5 * time.Second, 1_388_889}, // 1388888.9 rounded up
		{"ran a tenth", time.Second, 277_778},
		{"ran 1ms", time.Millisecond, 278},
		{"ran nothing", 0, 0},
		{"negative run time counts as none", -time.Second, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := market.Charge(rates, res, timeout, tt.ran)
			if err != nil {
				t.Fatalf("Charge: %v", err)
			}
			if got != tt.want {
				t.Fatalf("Charge(ran %v) = %d, want %d (price %d)", tt.ran, int64(got), int64(tt.want), int64(price))
			}
			if got > price {
				t.Fatalf("Charge %d is over the price %d", int64(got), int64(price))
			}
		})
	}
	t.Run("errors", func(t *testing.T) {
		if _, err := market.Charge(perHour(-1), res, timeout, time.Second); err == nil {
			t.Fatal("Charge accepted a negative rate")
		}
		if _, err := market.Charge(perHour(math.MaxInt64), cores(job.MaxCPUMillis), timeout, time.Second); err == nil {
			t.Fatal("Charge accepted an overflowing rate")
		}
	})
}

func TestChargeMonotoneAndCapped(t *testing.T) {
	rates := perHour(1_234_567_891)
	res := cores(2750)
	timeout := 90 * time.Second
	price, err := market.Price(rates, res, timeout)
	if err != nil {
		t.Fatal(err)
	}
	prev := job.Credits(0)
	for ran := time.Duration(0); ran <= timeout+time.Second; ran += 997 * time.Millisecond {
		c, err := market.Charge(rates, res, timeout, ran)
		if err != nil {
			t.Fatalf("Charge(ran %v): %v", ran, err)
		}
		if c < prev {
			t.Fatalf("Charge(ran %v) = %d, less than %d for a shorter run", ran, int64(c), int64(prev))
		}
		if c > price {
			t.Fatalf("Charge(ran %v) = %d, over the price %d", ran, int64(c), int64(price))
		}
		prev = c
	}
	if prev != price {
		t.Fatalf("Charge past the timeout = %d, want the price %d", int64(prev), int64(price))
	}
}
