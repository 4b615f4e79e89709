package scheduler_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/market"
	"github.com/computemesh/computemesh/scheduler"
)

var testNow = time.UnixMilli(1_700_000_000_000)

func testOffer() *scheduler.Offer {
	return &scheduler.Offer{
		Region:    "eu-west",
		Rates:     job.Rates{CPUHour: rate1}, // 0.01 credit for 1 core for 10s
		Executors: []string{job.ExecutorWASM},
		Capacity:  job.Resources{CPUMillis: 4000, MemoryBytes: 8 << 30},
	}
}

func testReq() *job.Request {
	return &job.Request{
		V: job.Version, Job: "bafyjob", Client: "client", Executor: job.ExecutorWASM,
		Resources: job.Resources{CPUMillis: 1000, MemoryBytes: 64 << 20},
		TimeoutMS: 10_000, Region: "eu-*",
	}
}

func TestAdmit(t *testing.T) {
	allFree := testOffer().Capacity
	tests := []struct {
		name       string
		offer      func(o *scheduler.Offer)
		req        func(r *job.Request)
		free       job.Resources
		wantCode   job.DeclineReason // decline code; "" for a bid
		wantDetail string            // substring of the decline's detail
		wantPrice  job.Credits
	}{
		{name: "bid", free: allFree, wantPrice: 10_000_000},
		{name: "bid without region constraint", req: func(r *job.Request) { r.Region = "" }, free: allFree, wantPrice: 10_000_000},
		{name: "bid of 0.5 cpu for 1h", req: func(r *job.Request) { r.Resources.CPUMillis, r.TimeoutMS = 500, 3_600_000 }, free: allFree, wantPrice: 1_800_000_000},
		{name: "bid at exactly the max price", req: func(r *job.Request) { r.MaxPrice = 10_000_000 }, free: allFree, wantPrice: 10_000_000},
		{name: "bid using the whole capacity", req: func(r *job.Request) { r.Resources = allFree }, free: allFree, wantPrice: 40_000_000},
		{name: "free providers bid 0", offer: func(o *scheduler.Offer) { o.Rates.CPUHour = 0 }, free: allFree, wantPrice: 0},
		{name: "memory priced per GiB-hour (64 MiB = 0.063 GiB, rounded up)", offer: func(o *scheduler.Offer) { o.Rates.MemGiBHour = rate1 },
			free: allFree, wantPrice: 10_000_000 + 630_000},
		{name: "disk priced per GiB-hour", offer: func(o *scheduler.Offer) { o.Rates.StorageGiBHour = rate1 },
			req: func(r *job.Request) { r.Resources.DiskBytes = 1 << 30 }, free: allFree, wantPrice: 20_000_000},
		{name: "disk over what the provider keeps", offer: func(o *scheduler.Offer) { o.MaxDiskBytes = 1 << 20 },
			req: func(r *job.Request) { r.Resources.DiskBytes = 2 << 20 }, free: allFree,
			wantCode: job.DeclineResources, wantDetail: "disk 2MiB is over the 1MiB of outputs it keeps"},
		{name: "surge at half use: rates × 1.5", offer: func(o *scheduler.Offer) { o.Surge = 1 },
			free: job.Resources{CPUMillis: 2000, MemoryBytes: 8 << 30}, wantPrice: 15_000_000},
		{name: "no surge when idle", offer: func(o *scheduler.Offer) { o.Surge = 1 }, free: allFree, wantPrice: 10_000_000},
		{name: "GPU priced by its model", offer: func(o *scheduler.Offer) {
			o.GPUs = []job.GPU{{Vendor: "nvidia", Model: "NVIDIA H100 80GB HBM3", VRAMBytes: 80 << 30}}
			o.Capacity.GPUs, o.Rates.GPUHour, o.GPURates = 1, 100*rate1, map[string]job.Credits{"h100": rate1}
		}, req: func(r *job.Request) { r.Resources.GPUs, r.Resources.GPUModel = 1, "h100" },
			free: job.Resources{CPUMillis: 4000, MemoryBytes: 8 << 30, GPUs: 1}, wantPrice: 20_000_000},

		{name: "executor not offered", offer: func(o *scheduler.Offer) { o.Executors = nil }, free: allFree,
			wantCode: job.DeclineExecutor, wantDetail: "executor wasm not offered"},
		{name: "executor checked before region", offer: func(o *scheduler.Offer) { o.Executors = []string{"docker"} },
			req: func(r *job.Request) { r.Region = "us-*" }, free: allFree, wantCode: job.DeclineExecutor},
		{name: "region", req: func(r *job.Request) { r.Region = "us-*" }, free: allFree,
			wantCode: job.DeclineRegion, wantDetail: "region eu-west does not match us-*"},
		{name: "region exact mismatch", req: func(r *job.Request) { r.Region = "eu-west-2" }, free: allFree,
			wantCode: job.DeclineRegion},
		{name: "more cpus than capacity", req: func(r *job.Request) { r.Resources.CPUMillis = 4001 }, free: allFree,
			wantCode: job.DeclineResources, wantDetail: "offers at most 4 cpu, 8GiB"},
		{name: "more memory than capacity", req: func(r *job.Request) { r.Resources.MemoryBytes = 16 << 30 }, free: allFree,
			wantCode: job.DeclineResources, wantDetail: "memory < 16GiB (offers at most 4 cpu, 8GiB)"},
		{name: "capacity checked before what is free", req: func(r *job.Request) { r.Resources.CPUMillis = 5000 },
			free: job.Resources{}, wantCode: job.DeclineResources},
		{name: "busy: cpus taken", free: job.Resources{CPUMillis: 999, MemoryBytes: 8 << 30},
			wantCode: job.DeclineBusy, wantDetail: "free 0.999 cpu, 8GiB"},
		{name: "busy: memory taken", free: job.Resources{CPUMillis: 4000, MemoryBytes: 32 << 20},
			wantCode: job.DeclineBusy, wantDetail: "wants 1 cpu, 64MiB, free 4 cpu, 32MiB"},
		{name: "over the max price", req: func(r *job.Request) { r.MaxPrice = 9_999_999 }, free: allFree,
			wantCode: job.DeclinePrice, wantDetail: "price 0.01 over max 0.009999999"},
		{name: "price overflow", offer: func(o *scheduler.Offer) { o.Rates.CPUHour = math.MaxInt64 }, free: allFree,
			wantCode: job.DeclinePrice, wantDetail: "overflow"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, r := testOffer(), testReq()
			if tt.offer != nil {
				tt.offer(o)
			}
			if tt.req != nil {
				tt.req(r)
			}
			b := scheduler.Admit(o, r, tt.free, 0)
			quoted := o.Surge > 0 || o.GPURates != nil // rates quoted for this request, not the list's
			if b.V != job.Version || b.Job != r.Job || b.Region != o.Region || (!quoted && b.Rates != o.Rates) {
				t.Fatalf("answer %+v does not carry version, job, region and rates of the offer", b)
			}
			if b.Provider != "" || b.ExpiresMS != 0 {
				t.Fatalf("Admit set provider or expiry (the caller's job): %+v", b)
			}
			if tt.wantCode != "" {
				if b.Decline != tt.wantCode {
					t.Fatalf("Admit = %+v, want decline %q", b, tt.wantCode)
				}
				if !strings.Contains(b.Detail, tt.wantDetail) {
					t.Fatalf("decline detail = %q, want it to contain %q", b.Detail, tt.wantDetail)
				}
				if b.Price != 0 {
					t.Fatalf("decline carries a price %d", b.Price)
				}
				return
			}
			if b.Decline != "" {
				t.Fatalf("Admit declined: %s (%s)", b.Decline, b.Detail)
			}
			if b.Price != tt.wantPrice {
				t.Fatalf("bid price = %d, want %d", b.Price, tt.wantPrice)
			}
			p, err := market.Price(b.Rates, r.Resources, r.Timeout()) // the rates it quoted
			if err != nil || b.Price != p {
				t.Fatalf("bid price %d is not market.Price = %d (%v)", b.Price, p, err)
			}
			// The bid passes the client's own checks.
			s := &job.Spec{Resources: r.Resources, TimeoutMS: r.TimeoutMS, Region: r.Region, MaxPrice: r.MaxPrice}
			b.Provider = "p"
			ev := scheduler.Evaluate([]job.Bid{b}, scheduler.Checks(r.Job, s, testNow), scheduler.Policy{Name: job.PolicyCost}, nil)
			if len(ev.Rejected) != 0 {
				t.Fatalf("the client rejects the bid Admit made: %s", ev.Rejected[0].Reason)
			}
		})
	}
}

func TestReservations(t *testing.T) {
	total := job.Resources{CPUMillis: 4000, MemoryBytes: 8 << 30}
	res := func(cpu int64, mem uint64) job.Resources { return job.Resources{CPUMillis: cpu, MemoryBytes: mem} }
	type op struct {
		reserve  string // job to reserve for, or
		release  string // job to release
		res      job.Resources
		wantErr  string // substring of Reserve's error; "" for success
		wantFree job.Resources
	}
	tests := []struct {
		name string
		ops  []op
	}{
		{"reserve and release", []op{
			{reserve: "a", res: res(1000, 1<<30), wantFree: res(3000, 7<<30)},
			{reserve: "b", res: res(500, 512<<20), wantFree: res(2500, 6<<30+512<<20)},
			{release: "a", wantFree: res(3500, 7<<30+512<<20)},
			{release: "b", wantFree: total},
		}},
		{"double reserve", []op{
			{reserve: "a", res: res(1000, 1<<30), wantFree: res(3000, 7<<30)},
			{reserve: "a", res: res(1000, 1<<30), wantErr: "already holds a reservation", wantFree: res(3000, 7<<30)},
		}},
		{"fill exactly, then over capacity", []op{
			{reserve: "a", res: total, wantFree: res(0, 0)},
			{reserve: "b", res: res(1, 1), wantErr: "not enough free capacity", wantFree: res(0, 0)},
			{release: "a", wantFree: total},
			{reserve: "b", res: res(1, 1), wantFree: res(3999, 8<<30-1)},
		}},
		{"cpus over, memory fits", []op{
			{reserve: "a", res: res(3000, 1<<30), wantFree: res(1000, 7<<30)},
			{reserve: "b", res: res(1001, 1<<20), wantErr: "not enough free capacity", wantFree: res(1000, 7<<30)},
		}},
		{"memory over, cpus fit", []op{
			{reserve: "a", res: res(1000, 7<<30), wantFree: res(3000, 1<<30)},
			{reserve: "b", res: res(1000, 1<<30+1), wantErr: "free 3 cpu, 1GiB", wantFree: res(3000, 1<<30)},
		}},
		{"more than the total at once", []op{
			{reserve: "a", res: res(4001, 1), wantErr: "not enough free capacity", wantFree: total},
		}},
		{"release of unknown or released jobs is a no-op", []op{
			{release: "nobody", wantFree: total},
			{reserve: "a", res: res(1000, 1<<30), wantFree: res(3000, 7<<30)},
			{release: "a", wantFree: total},
			{release: "a", wantFree: total},
		}},
		{"a released job may reserve again", []op{
			{reserve: "a", res: res(1000, 1<<30), wantFree: res(3000, 7<<30)},
			{release: "a", wantFree: total},
			{reserve: "a", res: res(2000, 1<<30), wantFree: res(2000, 7<<30)},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := scheduler.NewReservations(total)
			if r.Free() != total {
				t.Fatalf("Free() of new reservations = %+v, want %+v", r.Free(), total)
			}
			for i, o := range tt.ops {
				if o.release != "" {
					r.Release(o.release)
				} else {
					err := r.Reserve(o.reserve, o.res)
					switch {
					case o.wantErr == "" && err != nil:
						t.Fatalf("op %d: Reserve(%s, %s): %v", i, o.reserve, o.res, err)
					case o.wantErr != "" && (err == nil || !strings.Contains(err.Error(), o.wantErr)):
						t.Fatalf("op %d: Reserve(%s, %s) error = %v, want one containing %q", i, o.reserve, o.res, err, o.wantErr)
					}
				}
				if got := r.Free(); got != o.wantFree {
					t.Fatalf("op %d: Free() = %+v, want %+v", i, got, o.wantFree)
				}
			}
		})
	}
}

func TestReservationsConcurrent(t *testing.T) {
	const slots, workers = 10, 64
	total := job.Resources{CPUMillis: slots * 1000, MemoryBytes: slots << 30}
	one := job.Resources{CPUMillis: 1000, MemoryBytes: 1 << 30}

	t.Run("never over capacity", func(t *testing.T) {
		r := scheduler.NewReservations(total)
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := 0
		for i := 0; i < workers; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if r.Reserve(fmt.Sprintf("job-%d", i), one) == nil {
					mu.Lock()
					won++
					mu.Unlock()
				}
				_ = r.Free()
			}()
		}
		wg.Wait()
		if won != slots {
			t.Fatalf("%d reservations of one slot succeeded out of %d slots", won, slots)
		}
		if free := r.Free(); free != (job.Resources{}) {
			t.Fatalf("Free() = %+v after filling every slot", free)
		}
		for i := 0; i < workers; i++ {
			r.Release(fmt.Sprintf("job-%d", i))
		}
		if free := r.Free(); free != total {
			t.Fatalf("Free() = %+v after releasing all, want %+v", free, total)
		}
	})

	t.Run("reserve and release churn", func(t *testing.T) {
		r := scheduler.NewReservations(total)
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 200; i++ {
					id := fmt.Sprintf("w%d-%d", w, i)
					if r.Reserve(id, one) == nil {
						if f := r.Free(); f.CPUMillis < 0 || f.MemoryBytes > total.MemoryBytes {
							t.Errorf("Free() = %+v: over capacity", f)
						}
						r.Release(id)
					}
				}
			}()
		}
		wg.Wait()
		if free := r.Free(); free != total {
			t.Fatalf("Free() = %+v after churn, want %+v", free, total)
		}
	})
}

// Snapshot lists the reservations held and, in order, the jobs queued.
func TestReservationsSnapshot(t *testing.T) {
	r := scheduler.NewReservations(job.Resources{CPUMillis: 2000, MemoryBytes: 1 << 30})
	one := job.Resources{CPUMillis: 1000, MemoryBytes: 1 << 20}
	for _, id := range []string{"b", "a"} {
		if err := r.Reserve(id, one); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	queued := make(chan int, 2)
	done := make(chan error, 2)
	for _, id := range []string{"c", "d"} {
		go func() { done <- r.Wait(ctx, id, one, 4, func(pos int) { queued <- pos }) }()
		<-queued // c is first in line before d asks
	}
	held, q := r.Snapshot()
	if len(held) != 2 || held[0].ID != "a" || held[1].ID != "b" || held[0].Resources != one {
		t.Errorf("held %+v, want a and b with %v", held, one)
	}
	if len(q) != 2 || q[0] != "c" || q[1] != "d" {
		t.Errorf("queued %v, want [c d]", q)
	}
	cancel()
	for range 2 {
		<-done
	}
	if _, q := r.Snapshot(); len(q) != 0 {
		t.Errorf("queued %v after the waiters left", q)
	}
}
