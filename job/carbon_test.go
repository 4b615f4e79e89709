package job_test

import (
	"strings"
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
)

func TestEnergyAndEmissions(t *testing.T) {
	for _, c := range []struct {
		res  job.Resources
		d    time.Duration
		wh   float64
		at   job.Intensity
		want job.Carbon
	}{
		// 1 core and 1 GiB for an hour: 10.4 Wh; at 500 g/kWh, 5.2 g.
		{job.Resources{CPUMillis: 1000, MemoryBytes: 1 << 30}, time.Hour, 10.4, 500, 5200 * job.Milligram},
		// 2 GPUs, 4 cores, no memory, 30 min: 320 Wh; at 100, 32 g.
		{job.Resources{CPUMillis: 4000, GPUs: 2}, 30 * time.Minute, 320, 100, 32 * job.Gram},
		// Not declared: nothing is estimated.
		{job.Resources{CPUMillis: 1000}, time.Hour, 10, 0, 0},
	} {
		wh := job.Energy(c.res, c.d)
		if wh < c.wh-1e-9 || wh > c.wh+1e-9 {
			t.Errorf("Energy(%v, %v) = %g Wh, want %g", c.res, c.d, wh, c.wh)
		}
		if got := job.Emissions(wh, c.at); got != c.want {
			t.Errorf("Emissions(%g Wh, %d) = %s, want %s", wh, c.at, got, c.want)
		}
	}
	s := &job.Spec{TimeoutMS: 60_000}
	if s.ExpectedRun() != time.Minute {
		t.Errorf("no expected_ms: the expected run is the timeout, got %v", s.ExpectedRun())
	}
	s.ExpectedMS = 2000
	if s.ExpectedRun() != 2*time.Second {
		t.Errorf("expected_ms 2000: got %v", s.ExpectedRun())
	}
}

func TestCarbonFormatAndParse(t *testing.T) {
	for c, want := range map[job.Carbon]string{12: "12 µg", 1250: "1.25 mg", 3400 * job.Milligram: "3.4 g", 12 * job.Kilogram: "12 kg", 150 * job.Gram: "150 g"} {
		if got := c.String(); got != want {
			t.Errorf("%d µg: %q, want %q", int64(c), got, want)
		}
	}
	for in, want := range map[string]job.Carbon{"2g": 2 * job.Gram, "2": 2 * job.Gram, "500 mg": 500 * job.Milligram, "1.5kg": 1500 * job.Gram, "300µg": 300, "7ug": 7} {
		if got, err := job.ParseCarbon(in); err != nil || got != want {
			t.Errorf("ParseCarbon(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "g", "-1g", "0", "NaN", "1e30kg", "2 tonnes"} {
		if _, err := job.ParseCarbon(bad); err == nil {
			t.Errorf("ParseCarbon(%q): no error", bad)
		}
	}
}

var hour0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestIntensityOver(t *testing.T) {
	f := &job.Forecast{StartMS: hour0.UnixMilli(), Hours: []job.Intensity{100, 300, 50}}
	for _, c := range []struct {
		carbon job.Intensity
		f      *job.Forecast
		at     time.Time
		d      time.Duration
		want   job.Intensity
	}{
		{120, nil, hour0, time.Hour, 120},                                   // constant
		{0, nil, hour0, time.Hour, 0},                                       // nothing declared
		{0, f, hour0.Add(10 * time.Minute), time.Minute, 100},               // within one hour
		{0, f, hour0.Add(30 * time.Minute), time.Hour, 200},                 // spans two: their mean
		{0, f, hour0, 3 * time.Hour, 150},                                   // three
		{0, f, hour0.Add(2 * time.Hour), 2 * time.Hour, 50},                 // past the end, nothing else: the hour it covers
		{400, f, hour0.Add(2 * time.Hour), 2 * time.Hour, 225},              // past the end: the constant
		{400, f, hour0.Add(-time.Hour), time.Hour, 400},                     // before the start: the constant
		{0, f, hour0.Add(-time.Hour), 30 * time.Minute, 0},                  // nothing covers it
		{0, f, hour0.Add(time.Hour + 59*time.Minute), time.Minute, 300},     // ends at the hour
		{0, f, hour0.Add(time.Hour + 59*time.Minute), 2 * time.Minute, 175}, // crosses it
	} {
		if got := job.IntensityOver(c.carbon, c.f, c.at, c.d); got != c.want {
			t.Errorf("IntensityOver(%d, %v, %s, %v) = %d, want %d", c.carbon, c.f != nil, c.at.Format(time.TimeOnly), c.d, got, c.want)
		}
	}
	if lo, hi := job.IntensityRange(400, f, hour0, hour0.Add(4*time.Hour)); lo != 50 || hi != 400 {
		t.Errorf("IntensityRange: %d to %d, want 50 to 400", lo, hi)
	}
	w := f.Window(hour0.Add(90*time.Minute), 48)
	if w == nil || w.StartMS != hour0.Add(time.Hour).UnixMilli() || len(w.Hours) != 2 {
		t.Fatalf("Window from the second hour: %+v", w)
	}
	if f.Window(hour0.Add(3*time.Hour), 48) != nil {
		t.Errorf("a forecast whose hours are past has no window (stale)")
	}
}

func TestParseForecast(t *testing.T) {
	good := "# day-ahead, eu-west\nhour,intensity\n2026-03-01T12:00:00Z,100\n\n2026-03-01T13:00:00Z, 300\n2026-03-01T15:00:00+01:00,50\n"
	f, err := job.ParseForecast("fc.csv", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if f.StartMS != hour0.UnixMilli() || len(f.Hours) != 3 || f.Hours[2] != 50 {
		t.Fatalf("parsed %+v", f)
	}
	for _, c := range []struct{ data, want string }{
		{"", "fc.csv: no hours"},
		{"# only a comment\n", "fc.csv: no hours"},
		{"2026-03-01T12:00:00Z\n", "fc.csv:1: \"2026-03-01T12:00:00Z\": want HOUR,INTENSITY"},
		{"2026-03-01T12:00:00Z,1,2\n", "fc.csv:1:"},
		{"yesterday,100\n", "fc.csv:1: hour \"yesterday\": not an RFC 3339 time"},
		{"2026-03-01T12:30:00Z,100\n", "fc.csv:1: hour \"2026-03-01T12:30:00Z\": not the start of an hour"},
		{"2026-03-01T12:00:00Z,lots\n", "fc.csv:1: intensity \"lots\": not a whole number"},
		{"2026-03-01T12:00:00Z,0\n", "fc.csv:1: intensity 0 gCO2e/kWh is out of range"},
		{"2026-03-01T12:00:00Z,5001\n", "fc.csv:1: intensity 5001 gCO2e/kWh is out of range (1 to 5000)"},
		{"2026-03-01T12:00:00Z,-4\n", "fc.csv:1: intensity -4"},
		{"2026-03-01T12:00:00Z,10\n# gap\n2026-03-01T14:00:00Z,10\n", "fc.csv:3: hour 2026-03-01T14:00:00Z does not follow 2026-03-01T12:00:00Z"},
		{"2026-03-01T12:00:00Z,10\n2026-03-01T12:00:00Z,10\n", "fc.csv:2: hour 2026-03-01T12:00:00Z does not follow"},
		{"hour,intensity\nhour,intensity\n", "fc.csv:2:"},
		{strings.Repeat("x", job.MaxForecastFile+1), "fc.csv: 1048577 bytes, limit 1048576"},
	} {
		_, err := job.ParseForecast("fc.csv", []byte(c.data))
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%.40q: error %v, want it to start %q", c.data, err, c.want)
		}
	}
}

// FuzzParseForecast checks that ParseForecast never panics, and that what
// it accepts is a forecast whose every window a capacity record may carry.
func FuzzParseForecast(f *testing.F) {
	f.Add([]byte("hour,intensity\n2026-03-01T12:00:00Z,100\n2026-03-01T13:00:00Z,300\n"))
	f.Add([]byte("# x\n\n2026-03-01T12:00:00+05:30,1\n"))
	f.Add([]byte("1970-01-01T01:00:00Z,5000\n1970-01-01T02:00:00Z,5000"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fc, err := job.ParseForecast("f", data)
		if err != nil {
			if fc != nil || !strings.HasPrefix(err.Error(), "f:") && !strings.HasPrefix(err.Error(), "f ") {
				t.Fatalf("error %q does not name the file, or a forecast came with it", err)
			}
			return
		}
		w := fc.Window(fc.Start(), job.MaxForecastHours)
		if w == nil {
			t.Fatal("an accepted forecast has no window from its start")
		}
		if err := w.Validate(); err != nil {
			t.Fatalf("an accepted forecast's window is invalid: %v", err)
		}
		if v, ok := fc.At(fc.End().Add(-time.Nanosecond)); !ok || v != fc.Hours[len(fc.Hours)-1] {
			t.Fatalf("the last hour: %d, %v", v, ok)
		}
	})
}

// A bid or record with an out-of-range intensity is malformed: the
// validators every decoder runs refuse it, naming the field.
func TestCarbonOnTheWire(t *testing.T) {
	b := *testBid()
	for _, c := range []job.Intensity{-1, job.MaxIntensity + 1} {
		b.Carbon = c
		if err := job.Decode(job.Encode(&b), job.MaxGossipSize, new(job.Bid)); err == nil || !strings.Contains(err.Error(), "carbon:") {
			t.Errorf("a bid of %d gCO2e/kWh: %v", c, err)
		}
	}
	b.Carbon = 120
	if err := job.Decode(job.Encode(&b), job.MaxGossipSize, new(job.Bid)); err != nil {
		t.Errorf("a bid of 120 gCO2e/kWh: %v", err)
	}
	b.Carbon = 0
	if strings.Contains(string(job.Encode(&b)), "carbon") {
		t.Errorf("a bid without a declared intensity carries the field (nodes before it would refuse it): %s", job.Encode(&b))
	}
	rec := job.Capacity{V: job.Version, Peer: "p", Network: "n", Carbon: 120}
	for _, bad := range []func(c *job.Capacity){
		func(c *job.Capacity) { c.Carbon = -5 },
		func(c *job.Capacity) { c.Carbon = 9000 },
		func(c *job.Capacity) {
			c.Forecast = &job.Forecast{StartMS: hour0.UnixMilli(), Hours: []job.Intensity{100, 6000}}
		},
		func(c *job.Capacity) {
			c.Forecast = &job.Forecast{StartMS: hour0.UnixMilli() + 1, Hours: []job.Intensity{100}}
		},
		func(c *job.Capacity) { c.Forecast = &job.Forecast{StartMS: hour0.UnixMilli()} },
		func(c *job.Capacity) {
			c.Forecast = &job.Forecast{StartMS: hour0.UnixMilli(), Hours: make([]job.Intensity, job.MaxForecastHours+1)}
		},
	} {
		r := rec
		bad(&r)
		if err := job.Decode(job.Encode(&r), job.MaxCapacityRecord, new(job.Capacity)); err == nil {
			t.Errorf("a record with carbon %d, forecast %+v decodes", r.Carbon, r.Forecast)
		}
	}
	if err := job.Decode(job.Encode(&rec), job.MaxCapacityRecord, new(job.Capacity)); err != nil {
		t.Errorf("a record of 120 gCO2e/kWh: %v", err)
	}
}

// Only a job that weighs carbon says its expected run time in its
// request: the others' requests are what nodes before carbon decode.
func TestRequestExpectedOnlyForCarbon(t *testing.T) {
	s := testSpec()
	s.ExpectedMS = 5000
	if r := job.NewRequest("j", "c", s, 0); r.ExpectedMS != 0 || r.Run() != s.Timeout() || strings.Contains(string(job.Encode(r)), "expected") {
		t.Errorf("a cost job's request: expected_ms %d, run %v", r.ExpectedMS, r.Run())
	}
	for _, mut := range []func(s *job.Spec){
		func(s *job.Spec) { s.Policy = job.PolicyGreen },
		func(s *job.Spec) { s.MaxCarbon = job.Gram },
		func(s *job.Spec) { s.Policy, s.Weights = job.PolicyBalanced, job.Weights{Carbon: 1} },
	} {
		c := *s
		mut(&c)
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		if r := job.NewRequest("j", "c", &c, 0); r.ExpectedMS != 5000 || r.Run() != 5*time.Second {
			t.Errorf("policy %s, max carbon %d, weights %+v: expected_ms %d", c.Policy, c.MaxCarbon, c.Weights, r.ExpectedMS)
		}
	}
	w := job.Weights{Cost: 1, Carbon: 3}.Normalized()
	if w.Cost != 0.25 || w.Carbon != 0.75 || w.Latency != 0 {
		t.Errorf("normalized %+v", w)
	}
}
