package scheduler_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/scheduler"
)

func TestBacklogWait(t *testing.T) {
	tests := []struct {
		name   string
		queue  int
		waitMS int64
		bl     scheduler.Backlog
		want   time.Duration
	}{
		{"no backlog: the bid's wait", 2, 4000, scheduler.Backlog{Slots: 1, Run: time.Minute}, 4 * time.Second},
		{"free bid, fewer awards in flight than slots: starts at once", 0, 0, scheduler.Backlog{InFlight: 3, Slots: 4, Run: time.Minute}, 0},
		{"free bid, awards in flight fill every slot: one round", 0, 0, scheduler.Backlog{InFlight: 4, Slots: 4, Run: time.Minute}, time.Minute},
		{"free bid, two rounds in flight", 0, 0, scheduler.Backlog{InFlight: 9, Unseen: 1, Slots: 4, Run: time.Minute}, 2 * time.Minute},
		{"slots below 1 count as 1", 0, 0, scheduler.Backlog{InFlight: 2, Slots: 0, Run: time.Second}, 2 * time.Second},
		{"queued bid: each award sent since adds run / slots", 2, 4000, scheduler.Backlog{InFlight: 3, Unseen: 3, Slots: 8, Run: time.Minute}, 4*time.Second + 3*time.Minute/8},
		{"queued bid: awards it may show add nothing", 2, 4000, scheduler.Backlog{InFlight: 2, Slots: 1, Run: time.Hour}, 4 * time.Second},
		{"queued bid: more in flight than it can show", 1, 2000, scheduler.Backlog{InFlight: 4, Slots: 1, Run: time.Second}, 2*time.Second + 3*time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := goodBid("p", rate1)
			b.Queue, b.WaitMS = tt.queue, tt.waitMS
			if got := tt.bl.Wait(&b); got != tt.want {
				t.Fatalf("wait %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSlotsFor(t *testing.T) {
	tests := []struct {
		name        string
		total, need job.Resources
		want        int
	}{
		{"cores bind", job.Resources{CPUMillis: 4000, MemoryBytes: 64 << 30}, job.Resources{CPUMillis: 1000, MemoryBytes: 1 << 30}, 4},
		{"memory binds", job.Resources{CPUMillis: 16000, MemoryBytes: 4 << 30}, job.Resources{CPUMillis: 1000, MemoryBytes: 1 << 30}, 4},
		{"GPUs bind", job.Resources{CPUMillis: 64000, MemoryBytes: 64 << 30, GPUs: 2}, job.Resources{CPUMillis: 1000, GPUs: 1}, 2},
		{"a job larger than the provider: 1", job.Resources{CPUMillis: 1000}, job.Resources{CPUMillis: 4000}, 1},
		{"a job asking for nothing: 1", job.Resources{CPUMillis: 1000}, job.Resources{}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := scheduler.SlotsFor(tt.total, tt.need); got != tt.want {
				t.Fatalf("slots %d, want %d", got, tt.want)
			}
		})
	}
}

func TestBacklogRun(t *testing.T) {
	s := evalSpec() // 10 s timeout
	tests := []struct {
		name               string
		estimate, measured time.Duration
		want               time.Duration
	}{
		{"the job's estimate first", 3 * time.Second, time.Second, 3 * time.Second},
		{"then what the client measured there", 0, time.Second, time.Second},
		{"else half the timeout, as the provider guesses", 0, 0, 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := scheduler.BacklogRun(tt.estimate, tt.measured, s); got != tt.want {
				t.Fatalf("run %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMeetsDeadline(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	tests := []struct {
		name     string
		deadline time.Time
		wait     time.Duration
		want     string // "" passes; else a part of the reason
	}{
		{"no deadline: any wait passes", time.Time{}, time.Hour, ""},
		{"starts before the deadline", now.Add(10 * time.Second), 9 * time.Second, ""},
		{"starts right at the deadline", now.Add(10 * time.Second), 10 * time.Second, ""},
		{"would start after it", now.Add(10 * time.Second), 11 * time.Second, "would start in 11s, past the deadline in 10s"},
		{"the deadline has passed: even a free bid misses it", now.Add(-time.Second), 0, "the deadline passed 1s ago"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := scheduler.MeetsDeadline(tt.deadline, now, func(*job.Bid) time.Duration { return tt.wait })
			b := goodBid("p", rate1)
			ev := scheduler.Evaluate([]job.Bid{b}, []scheduler.Check{c}, scheduler.Policy{Name: job.PolicyCost}, nil)
			if tt.want == "" {
				if len(ev.Rejected) != 0 || len(ev.Ranked) != 1 {
					t.Fatalf("rejected %+v, want the bid ranked", ev.Rejected)
				}
				return
			}
			if len(ev.Rejected) != 1 || ev.Rejected[0].Code != job.RejectDeadline || !strings.Contains(ev.Rejected[0].Reason, tt.want) {
				t.Fatalf("rejected %+v, want code %s with %q", ev.Rejected, job.RejectDeadline, tt.want)
			}
		})
	}
}

// TestBurstSpreadsUnderDeadline places a burst of identical jobs one after
// the other, as a client's concurrent auctions do: every bid is stale
// (each provider bid "free", before any award), so only the client's own
// backlog tells the cheapest provider is filling up. Without a deadline
// every job goes to the cheapest; with one, the cheapest bids that still
// start in time; past every provider's room, none is feasible and the job
// waits for another auction.
func TestBurstSpreadsUnderDeadline(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	providers := []struct {
		id    string
		rate  job.Credits
		slots int
	}{{"cheap", rate1, 2}, {"mid", rate2, 1}, {"dear", rate3, 1}}
	const run = 10 * time.Second
	tests := []struct {
		name     string
		deadline time.Duration // from now; 0: none
		maxWait  time.Duration // soft bound; 0: none
		jobs     int
		want     map[string]int // jobs placed per provider; "" counts unplaced
	}{
		{"no deadline: all on the cheapest", 0, 0, 8, map[string]int{"cheap": 8}},
		{"deadline 0s: every slot once, the rest wait", time.Millisecond, 0, 6, map[string]int{"cheap": 2, "mid": 1, "dear": 1, "": 2}},
		{"deadline 10s: the cheapest takes two rounds", 10 * time.Second, 0, 6, map[string]int{"cheap": 4, "mid": 2}},
		{"deadline 20s: the cheapest takes three rounds, then the next", 20 * time.Second, 0, 9, map[string]int{"cheap": 6, "mid": 3}},
		{"soft bound 0s: spread over every free slot, then the earliest start", 0, time.Millisecond, 8, map[string]int{"cheap": 4, "mid": 2, "dear": 2}},
		{"soft bound 10s: cheapest within it, nothing dropped", 0, 10 * time.Second, 8, map[string]int{"cheap": 4, "mid": 2, "dear": 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := evalSpec()
			s.TimeoutMS = 60_000
			placed := map[string]int{}
			for i := range tt.jobs {
				id := fmt.Sprintf("job%d", i)
				var bids []job.Bid
				for _, p := range providers {
					b := goodBid(p.id, p.rate)
					b.Job, b.Price = id, p.rate/60 // 1 core for 60 s
					bids = append(bids, b)
				}
				waitOf := func(b *job.Bid) time.Duration {
					for _, p := range providers {
						if p.id == b.Provider {
							return scheduler.Backlog{InFlight: placed[p.id], Slots: p.slots, Run: run}.Wait(b)
						}
					}
					t.Fatalf("unknown provider %s", b.Provider)
					return 0
				}
				var deadline time.Time
				if tt.deadline > 0 {
					deadline = now.Add(tt.deadline)
				}
				checks := append(scheduler.Checks(id, s, now), scheduler.MeetsDeadline(deadline, now, waitOf))
				est := func(b *job.Bid) scheduler.Option { return scheduler.Option{Wait: waitOf(b), Run: run} }
				ev := scheduler.Evaluate(bids, checks, scheduler.Policy{Name: job.PolicyCost, MaxWait: tt.maxWait}, est)
				if len(ev.Ranked) == 0 {
					placed[""]++
					for _, r := range ev.Rejected {
						if r.Code != job.RejectDeadline {
							t.Fatalf("job %d: rejected %+v, want only deadline rejections", i, r)
						}
					}
					continue
				}
				placed[ev.Ranked[0].Bid.Provider]++
			}
			for k, v := range tt.want {
				if placed[k] != v {
					t.Fatalf("placed %v, want %v", placed, tt.want)
				}
			}
			if len(placed) != len(tt.want) {
				t.Fatalf("placed %v, want %v", placed, tt.want)
			}
		})
	}
}

func TestMaxWaitRanking(t *testing.T) {
	opts := map[string]struct {
		rate job.Credits
		wait time.Duration
	}{
		"cheap-late":  {rate1, 30 * time.Second},
		"mid-soon":    {rate2, 2 * time.Second},
		"dear-now":    {rate3, 0},
		"mid-later":   {rate2, 20 * time.Second},
		"cheap-later": {rate1, 40 * time.Second},
	}
	tests := []struct {
		name  string
		bound time.Duration
		want  []string
	}{
		{"no bound: by price alone", 0, []string{"cheap-late", "cheap-later", "mid-later", "mid-soon", "dear-now"}},
		{"5s: within it by price, past it by the earliest start", 5 * time.Second, []string{"mid-soon", "dear-now", "mid-later", "cheap-late", "cheap-later"}},
		{"25s: within it by price", 25 * time.Second, []string{"mid-later", "mid-soon", "dear-now", "cheap-late", "cheap-later"}},
		{"an hour: as without", time.Hour, []string{"cheap-late", "cheap-later", "mid-later", "mid-soon", "dear-now"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var bids []job.Bid
			for id, o := range opts {
				b := goodBid(id, o.rate)
				b.WaitMS = o.wait.Milliseconds()
				bids = append(bids, b)
			}
			est := func(b *job.Bid) scheduler.Option {
				return scheduler.Option{Wait: time.Duration(b.WaitMS) * time.Millisecond}
			}
			ev := scheduler.Evaluate(bids, scheduler.Checks(evalJob, evalSpec(), time.Now()), scheduler.Policy{Name: job.PolicyCost, MaxWait: tt.bound}, est)
			var got []string
			for _, o := range ev.Ranked {
				got = append(got, o.Bid.Provider)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("ranked %v, want %v", got, tt.want)
			}
		})
	}
}

func TestWhyWait(t *testing.T) {
	ranked := []scheduler.Option{
		{Bid: job.Bid{Provider: "mid", Price: 2}, Wait: time.Second},
		{Bid: job.Bid{Provider: "cheap", Price: 1}, Wait: time.Minute},
		{Bid: job.Bid{Provider: "cheaper", Price: 0}, Wait: 2 * time.Minute},
	}
	tests := []struct {
		name  string
		bound time.Duration
		i     int
		want  string
	}{
		{"no bound", 0, 0, ""},
		{"the winner within it, cheaper bids past it", 5 * time.Second, 0, "; 2 cheaper bids would wait past the max wait 5s"},
		{"a backup past it", 5 * time.Second, 1, "; every bid left would wait past the max wait 5s: the earliest start (wait 1m0s)"},
		{"nothing cheaper past it", time.Hour, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := scheduler.WhyWait(tt.bound, ranked, tt.i); got != tt.want {
				t.Fatalf("%q, want %q", got, tt.want)
			}
		})
	}
}
