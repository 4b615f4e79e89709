package scheduler_test

import (
	"strings"
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/scheduler"
)

// carbonBid is goodBid declaring an intensity.
func carbonBid(provider string, rate job.Credits, carbon job.Intensity) job.Bid {
	b := goodBid(provider, rate)
	b.Carbon = carbon
	return b
}

func ranking(ev scheduler.Evaluation) string {
	var ps []string
	for _, o := range ev.Ranked {
		ps = append(ps, o.Bid.Provider)
	}
	return strings.Join(ps, ",")
}

func TestGreenRanker(t *testing.T) {
	s := evalSpec()
	s.Policy = job.PolicyGreen
	for _, c := range []struct {
		name string
		bids []job.Bid
		want string
		why  string // in the winner's reason
	}{
		{"the cleaner wins over the cheaper", []job.Bid{carbonBid("cheap", rate1, 400), carbonBid("clean", rate3, 50)},
			"clean,cheap", "lowest estimated emissions 1.39 mg at 50 g/kWh (next 11.1 mg at 400 g/kWh), price 0.03"},
		{"equal intensity: the cheaper", []job.Bid{carbonBid("b", rate2, 120), carbonBid("a", rate3, 120), carbonBid("c", rate1, 120)},
			"c,b,a", "at 120 g/kWh"},
		{"one that declares nothing ranks last, however cheap", []job.Bid{goodBid("silent", rate1), carbonBid("coal", rate3, 1200)},
			"coal,silent", "(next declares none)"},
		{"nobody declares: by price", []job.Bid{goodBid("b", rate2), goodBid("a", rate1)},
			"a,b", "declares no carbon intensity (ranked after those that do); price 0.01 (next 0.02)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ev := scheduler.Evaluate(c.bids, scheduler.Checks(evalJob, s, time.Now()), scheduler.PolicyOf(s), nil)
			if got := ranking(ev); got != c.want {
				t.Fatalf("ranked %s, want %s", got, c.want)
			}
			if why := scheduler.Why(s.Policy, ev.Ranked, 0); !strings.Contains(why, c.why) {
				t.Fatalf("why %q, want it to say %q", why, c.why)
			}
		})
	}
}

func TestMaxCarbonFilter(t *testing.T) {
	s := evalSpec() // 1 core, 64 MiB, 10 s: 10.025 W × 10 s = 27.8 mWh
	for _, c := range []struct {
		name   string
		max    job.Carbon
		carbon job.Intensity
		reason string // "" passes
	}{
		{"no max passes anything", 0, 0, ""},
		{"no max passes coal", 0, 1200, ""},
		{"under the max", 5 * job.Milligram, 120, ""},
		{"at the max", 3342, 120, ""},
		{"over the max", 3 * job.Milligram, 120, "estimated emissions 3.34 mg (27.8 mWh at 120 g/kWh) are over the max carbon 3 mg"},
		{"declares nothing", 5 * job.Milligram, 0, "declares no carbon intensity (the job's max carbon is 5 mg)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s.MaxCarbon = c.max
			b := carbonBid("p", rate1, c.carbon)
			ev := scheduler.Evaluate([]job.Bid{b}, []scheduler.Check{scheduler.MaxCarbon(s)}, scheduler.PolicyOf(s), nil)
			switch {
			case c.reason == "" && len(ev.Ranked) != 1:
				t.Fatalf("rejected: %+v", ev.Rejected)
			case c.reason != "" && (len(ev.Rejected) != 1 || ev.Rejected[0].Reason != c.reason || ev.Rejected[0].Code != job.RejectMaxCarbon):
				t.Fatalf("rejections %+v, want %s %q", ev.Rejected, job.RejectMaxCarbon, c.reason)
			}
		})
	}
}

func TestBalancedCarbonWeight(t *testing.T) {
	s := evalSpec()
	s.Policy = job.PolicyBalanced
	// cheap: a third of the price at 8 times the intensity.
	bids := []job.Bid{carbonBid("cheap", rate1, 400), carbonBid("clean", rate3, 50)}
	for _, c := range []struct {
		name string
		w    job.Weights
		bids []job.Bid
		want string
	}{
		{"no carbon weight: price decides", job.Weights{Cost: 1}, bids, "cheap,clean"},
		{"carbon alone", job.Weights{Cost: 0.001, Carbon: 1}, bids, "clean,cheap"},
		{"equal weights: 8x the emissions outweighs 3x the price", job.Weights{Cost: 1, Carbon: 1}, bids, "clean,cheap"},
		{"price heavy", job.Weights{Cost: 5, Carbon: 1}, bids, "cheap,clean"},
		{"undeclared counts as 1000 g/kWh", job.Weights{Cost: 1, Carbon: 1},
			[]job.Bid{goodBid("silent", rate1), carbonBid("dirty", rate1, 800)}, "dirty,silent"},
		{"or as the worst declared", job.Weights{Cost: 1, Carbon: 1},
			[]job.Bid{goodBid("silent", rate1), carbonBid("worse", rate2, 3000)}, "silent,worse"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s.Weights = c.w
			p := scheduler.PolicyOf(s)
			ev := scheduler.Evaluate(c.bids, scheduler.Checks(evalJob, s, time.Now()), p, func(*job.Bid) scheduler.Option {
				return scheduler.Option{RTT: time.Millisecond}
			})
			if got := ranking(ev); got != c.want {
				t.Fatalf("ranked %s (scores %v, %v), want %s", got, ev.Ranked[0].Score, ev.Ranked[1].Score, c.want)
			}
		})
	}
	s.Weights = job.Weights{Cost: 1, Carbon: 1}
	ev := scheduler.Evaluate(bids, nil, scheduler.PolicyOf(s), nil)
	if why := scheduler.Why(s.Policy, ev.Ranked, 0); !strings.Contains(why, "emissions 1.39 mg at 50 g/kWh") {
		t.Errorf("why %q does not say the winner's emissions", why)
	}
}

func TestCarbonFollows(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 30, 0, 0, time.UTC)
	h := now.Truncate(time.Hour)
	records := map[string]*job.Capacity{
		"const":    {Carbon: 120},
		"none":     {},
		"forecast": {Carbon: 300, Forecast: &job.Forecast{StartMS: h.UnixMilli(), Hours: []job.Intensity{100, 60}}},
	}
	record := func(p string) *job.Capacity { return records[p] }
	for _, c := range []struct {
		provider string
		carbon   job.Intensity
		run      time.Duration
		reason   string
	}{
		{"unknown", 40, time.Minute, ""},
		{"const", 0, time.Minute, ""},
		{"const", 120, time.Minute, ""},
		{"const", 20, time.Minute, "carbon intensity 20 g/kWh does not follow from its capacity record (120 g/kWh to 120 g/kWh for the run, from a start within 5m0s of now)"},
		{"none", 20, time.Minute, "carbon intensity 20 g/kWh, but its capacity record declares none"},
		{"forecast", 100, time.Minute, ""},
		{"forecast", 80, time.Hour, ""},
		{"forecast", 60, time.Minute, "carbon intensity 60 g/kWh does not follow from its capacity record (100 g/kWh to 100 g/kWh for the run, from a start within 5m0s of now)"},
		// The run's cleanest hour does not stand for the run: its mean does.
		{"forecast", 60, time.Hour, "carbon intensity 60 g/kWh does not follow from its capacity record (80 g/kWh to 80 g/kWh for the run, from a start within 5m0s of now)"},
		{"forecast", 153, 2 * time.Hour, ""}, // 100, 60 and, past the forecast, its constant 300
		{"forecast", 60, 2 * time.Hour, "carbon intensity 60 g/kWh does not follow from its capacity record (153 g/kWh to 153 g/kWh for the run, from a start within 5m0s of now)"},
	} {
		ev := scheduler.Evaluate([]job.Bid{carbonBid(c.provider, rate1, c.carbon)},
			[]scheduler.Check{scheduler.CarbonFollows(record, now, c.run)}, scheduler.Policy{}, nil)
		switch {
		case c.provider == "unknown" && (len(ev.Ranked) != 1 || ev.Ranked[0].Bid.Carbon != 0):
			t.Errorf("a bid without a record to follow from: %+v; want it kept, declaring none", ev.Ranked)
		case c.reason == "" && len(ev.Ranked) != 1:
			t.Errorf("%s at %d for %v: rejected %+v", c.provider, c.carbon, c.run, ev.Rejected)
		case c.reason != "" && (len(ev.Rejected) != 1 || ev.Rejected[0].Reason != c.reason || ev.Rejected[0].Code != job.RejectCarbon):
			t.Errorf("%s at %d for %v: rejections %+v, want %q", c.provider, c.carbon, c.run, ev.Rejected, c.reason)
		}
	}
}

func TestGreenestStart(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 40, 0, 0, time.UTC)
	h := now.Truncate(time.Hour)
	sunny := &job.Capacity{Peer: "sunny", Forecast: &job.Forecast{StartMS: h.UnixMilli(), Hours: []job.Intensity{400, 300, 40, 40, 500}}}
	steady := &job.Capacity{Peer: "steady", Carbon: 200}
	for _, c := range []struct {
		name    string
		records []*job.Capacity
		run     time.Duration
		latest  time.Time
		at      time.Time
		least   job.Intensity
		who     string
	}{
		{"nothing declared: at once", []*job.Capacity{{Peer: "x"}}, time.Minute, now.Add(5 * time.Hour), now, 0, ""},
		{"constants only: at once", []*job.Capacity{steady}, time.Minute, now.Add(5 * time.Hour), now, 200, "steady"},
		{"the greenest hour within the deadline", []*job.Capacity{sunny, steady}, time.Minute, now.Add(5 * time.Hour), h.Add(2 * time.Hour), 40, "sunny"},
		{"the earliest of equals", []*job.Capacity{sunny}, time.Hour, now.Add(5 * time.Hour), h.Add(2 * time.Hour), 40, "sunny"},
		{"a run spanning hours: their mean", []*job.Capacity{sunny}, 2 * time.Hour, now.Add(5 * time.Hour), h.Add(2 * time.Hour), 40, "sunny"},
		{"the green hour past the latest start", []*job.Capacity{sunny, steady}, time.Minute, h.Add(90 * time.Minute), now, 200, "steady"},
		{"greener now than later", []*job.Capacity{steady, {Peer: "now", Forecast: &job.Forecast{StartMS: h.UnixMilli(), Hours: []job.Intensity{10, 50}}}},
			time.Minute, now.Add(5 * time.Hour), now, 10, "now"},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := scheduler.GreenestStart(c.records, c.run, now, c.latest)
			if !g.At.Equal(c.at) || g.Intensity != c.least || g.Provider != c.who {
				t.Fatalf("start %s at %d by %q, want %s at %d by %q", g.At.Format(time.TimeOnly), g.Intensity, g.Provider,
					c.at.Format(time.TimeOnly), c.least, c.who)
			}
		})
	}
}
