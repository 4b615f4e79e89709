package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/scheduler"
)

// smallConfig is a quick simulation on the synthetic topology.
func smallConfig(seed uint64) Config {
	c := DefaultConfig()
	c.Providers, c.Clients, c.Jobs, c.Seed = 40, 10, 600, seed
	c.Loads = []float64{0.5, 0.9}
	return c
}

func TestRunDeterministic(t *testing.T) {
	topo := SyntheticTopology()
	tests := []struct {
		name       string
		a, b       uint64
		wantEquals bool
	}{
		{"same seed, same report", 7, 7, true},
		{"another seed, another report", 7, 8, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ra, err := Run(context.Background(), topo, smallConfig(tt.a))
			if err != nil {
				t.Fatal(err)
			}
			rb, err := Run(context.Background(), topo, smallConfig(tt.b))
			if err != nil {
				t.Fatal(err)
			}
			ra.Config.Seed, rb.Config.Seed = 0, 0
			if got := reflect.DeepEqual(ra, rb); got != tt.wantEquals {
				ja, _ := json.Marshal(ra.Results[0])
				jb, _ := json.Marshal(rb.Results[0])
				t.Fatalf("reports equal: %v, want %v\n%s\n%s", got, tt.wantEquals, ja, jb)
			}
		})
	}
}

func TestRunFigures(t *testing.T) {
	cfg := smallConfig(3)
	rep, err := Run(context.Background(), SyntheticTopology(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != len(cfg.Loads)*len(Schedulers()) {
		t.Fatalf("%d results, want %d", len(rep.Results), len(cfg.Loads)*len(Schedulers()))
	}
	measured := cfg.Jobs - int(float64(cfg.Jobs)*cfg.Warmup) - int(float64(cfg.Jobs)*cfg.Cooldown)
	for _, r := range rep.Results {
		t.Run(r.Scheduler+"@"+fmt.Sprint(r.Load), func(t *testing.T) {
			if r.Jobs != measured || r.Failed != 0 {
				t.Errorf("%d jobs measured, %d failed, want every one of %d done", r.Jobs, r.Failed, measured)
			}
			if r.CostMean <= 0 || r.RTTMeanMS < 0 || r.CompletionMean <= r.RunMean || r.CompletionP99 < r.CompletionMean {
				t.Errorf("implausible figures: %+v", r)
			}
			if r.Awards < 1 || r.Rounds < 1 {
				t.Errorf("awards %g, rounds %g: each job takes at least one", r.Awards, r.Rounds)
			}
			if r.Scheduler == Omniscient && (r.Ratio != Ratios{Cost: 1, RTT: 1, CompletionMean: 1, CompletionP99: 1}) {
				t.Errorf("the omniscient scheduler's ratios to itself are %+v", r.Ratio)
			}
			n := 0
			for _, p := range r.ByPolicy {
				n += p.Jobs
			}
			if n != r.Jobs {
				t.Errorf("policies add up to %d jobs, want %d", n, r.Jobs)
			}
		})
	}
	var table bytes.Buffer
	if err := WriteTable(&table, rep); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "computemesh") || strings.Count(table.String(), "\n") != len(rep.Results)+1 {
		t.Errorf("table:\n%s", table.String())
	}
	var img bytes.Buffer
	if err := Plot(&img, rep); err != nil {
		t.Fatal(err)
	}
	if m, err := png.Decode(&img); err != nil || m.Bounds().Dx() < 800 {
		t.Fatalf("plot: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(c *Config)
		wantErr string
	}{
		{"default", func(*Config) {}, ""},
		{"no providers", func(c *Config) { c.Providers = 0 }, "providers:"},
		{"bad load", func(c *Config) { c.Loads = []float64{0.5, 3} }, "loads[1]:"},
		{"no loads", func(c *Config) { c.Loads = nil }, "loads:"},
		{"bad policy", func(c *Config) { c.Policy = "fastest" }, "policy:"},
		{"warm-up and cool-down leave nothing", func(c *Config) { c.Warmup, c.Cooldown = 0.5, 0.5 }, "warmup, cooldown:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.edit(&c)
			err := c.Validate()
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.wantErr)) {
				t.Fatalf("Validate() = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestProviderQueue checks that a provider's exact start-time estimate is
// what really happens: jobs served first come, first served.
func TestProviderQueue(t *testing.T) {
	p := &Provider{ID: "p", Offer: offer(8)}
	s := newProvState(p, 0, 4)
	var l Loop
	starts := map[string]time.Duration{}
	var predicted []time.Duration
	add := func(id string, cores int64, run time.Duration) bool {
		tk := &task{job: &Job{ID: id}, res: job.Resources{CPUMillis: cores * 1000, MemoryBytes: 1 << 30}, run: run, est: run}
		tk.done = func(time.Duration) { starts[id] = tk.start }
		predicted = append(predicted, s.startTime(l.Now(), tk.res, true))
		return s.accept(&l, tk, 0)
	}
	for i, c := range []struct {
		cores int64
		run   time.Duration
		want  bool
	}{{6, 10 * time.Second, true}, {4, 5 * time.Second, true}, {2, time.Second, true}, {8, time.Second, true}, {1, time.Second, true}, {1, time.Second, false}} {
		if got := add(string(rune('a'+i)), c.cores, c.run); got != c.want {
			t.Fatalf("job %d accepted %v, want %v (queue %d)", i, got, c.want, len(s.queue))
		}
	}
	predicted = predicted[:5]
	l.Run(0)
	want := []time.Duration{0, 10 * time.Second, 10 * time.Second, 15 * time.Second, 16 * time.Second}
	for i, id := range []string{"a", "b", "c", "d", "e"} {
		if starts[id] != want[i] || predicted[i] != want[i] {
			t.Errorf("job %s started at %v (predicted %v), want %v", id, starts[id], predicted[i], want[i])
		}
	}
	if s.reserved.Running() != 0 || len(s.queue) != 0 {
		t.Errorf("after the run: %d running, %d queued", s.reserved.Running(), len(s.queue))
	}
}

func offer(cores int64) scheduler.Offer {
	return scheduler.Offer{Region: "eu-west", Executors: []string{job.ExecutorWASM},
		Capacity: job.Resources{CPUMillis: cores * 1000, MemoryBytes: uint64(cores) << 30 * 4}, Rates: job.Rates{CPUHour: job.Nano}}
}

func TestStreamSmallMesh(t *testing.T) {
	tests := []struct {
		name      string
		providers int
		load      float64
	}{
		{"tiny mesh, few GPUs", 5, 0.9},
		{"small mesh", 20, 0.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMesh(SyntheticTopology(), tt.providers, 3, 11)
			jobs, err := Stream(m, Workload{Jobs: 2000, Load: tt.load, Policy: PolicyMixed, Seed: 5})
			if err != nil {
				t.Fatal(err)
			}
			for i := range jobs {
				if len(m.Candidates(&jobs[i].Spec)) == 0 || jobs[i].At <= 0 || (i > 0 && jobs[i].At < jobs[i-1].At) {
					t.Fatalf("job %d: %d candidates, submitted at %v", i, len(m.Candidates(&jobs[i].Spec)), jobs[i].At)
				}
			}
		})
	}
}
