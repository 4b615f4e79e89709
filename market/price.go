package market

import (
	"fmt"
	"math"
	"math/bits"
	"time"

	"github.com/computemesh/computemesh/job"
)

// Price is the most a job can cost under rates: rates × requested resources
// × timeout, rounded up to the nano-credit. It is the bid's price, the figure
// --max-price limits and the cost policy ranks.
func Price(r job.Rates, res job.Resources, timeout time.Duration) (job.Credits, error) {
	c, err := cost(r, res, timeout)
	return max(c, r.Floor), err
}

// cost = CPU rate × cores × d + GPU rate × GPUs × d + memory rate × GiB × d
// + storage rate × disk GiB × d (GiB in thousandths, rounded up).
func cost(r job.Rates, res job.Resources, d time.Duration) (job.Credits, error) {
	c, err := cpuCost(r.CPUHour, res.CPUMillis, d)
	if err != nil {
		return 0, err
	}
	if res.GPUs > 0 {
		g, err := cpuCost(r.GPUHour, int64(res.GPUs)*1000, d)
		if err != nil {
			return 0, err
		}
		if c > math.MaxInt64-g {
			return 0, fmt.Errorf("price overflow")
		}
		c += g
	}
	for _, per := range []struct {
		rate  job.Credits
		bytes uint64
	}{{r.MemGiBHour, res.MemoryBytes}, {r.StorageGiBHour, res.DiskBytes}} {
		if per.rate <= 0 || per.bytes == 0 {
			continue
		}
		milliGiB := int64((per.bytes*1000 + 1<<30 - 1) >> 30)
		m, err := cpuCost(per.rate, milliGiB, d)
		if err != nil {
			return 0, err
		}
		if c > math.MaxInt64-m {
			return 0, fmt.Errorf("price overflow")
		}
		c += m
	}
	return c, nil
}

// Surged returns rates raised for utilisation u (0 to 1, the share of the
// provider's CPU already reserved) by surge: each rate × (1 + surge × u),
// rounded up; the floor stays.
func Surged(r job.Rates, surge, u float64) job.Rates {
	if surge <= 0 || u <= 0 {
		return r
	}
	f := 1 + surge*min(u, 1)
	up := func(c job.Credits) job.Credits { return job.Credits(math.Ceil(float64(c) * f)) }
	r.CPUHour, r.GPUHour, r.MemGiBHour, r.StorageGiBHour = up(r.CPUHour), up(r.GPUHour), up(r.MemGiBHour), up(r.StorageGiBHour)
	return r
}

// Charge is what a finished run costs: the same rates applied to the
// requested resources for the time the run really took, capped at the
// price.
func Charge(r job.Rates, res job.Resources, timeout, ran time.Duration) (job.Credits, error) {
	if ran > timeout {
		ran = timeout
	}
	if ran < 0 {
		ran = 0
	}
	c, err := cost(r, res, ran)
	return max(c, r.Floor), err
}

// cpuCost = rate[nano/core-hour] × millis/1000 × d/hour, rounded up.
func cpuCost(rate job.Credits, cpuMillis int64, d time.Duration) (job.Credits, error) {
	if rate < 0 || cpuMillis < 0 || d < 0 {
		return 0, fmt.Errorf("negative rate, cpus or duration")
	}
	// numerator = rate × cpuMillis × d(ns); denominator = 1000 × 3600e9.
	hi1, lo1 := bits.Mul64(uint64(rate), uint64(cpuMillis))
	if hi1 != 0 {
		return 0, fmt.Errorf("price overflow: rate %s × %d millicores", rate, cpuMillis)
	}
	hi, lo := bits.Mul64(lo1, uint64(d))
	const den = 1000 * 3600 * uint64(time.Second)
	if hi >= den {
		return 0, fmt.Errorf("price overflow: rate %s × %d millicores × %v", rate, cpuMillis, d)
	}
	q, rem := bits.Div64(hi, lo, den)
	if rem != 0 {
		q++
	}
	if q > math.MaxInt64 {
		return 0, fmt.Errorf("price overflow: %d nano-credits", q)
	}
	return job.Credits(q), nil
}

// Scale is a charge under a second-price auction: the metered charge at the
// winner's rates scaled by pay/price (the runner-up's price over the
// winner's), capped at pay. With pay <= price it returns charge.
func Scale(charge, price, pay job.Credits) job.Credits {
	if pay <= price || price <= 0 {
		return charge
	}
	hi, lo := bits.Mul64(uint64(charge), uint64(pay))
	if hi >= uint64(price) {
		return pay // cannot overflow past the cap: the charge never exceeds the price
	}
	q, _ := bits.Div64(hi, lo, uint64(price))
	return min(job.Credits(q), pay)
}
