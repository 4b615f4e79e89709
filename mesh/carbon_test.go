package mesh

import (
	"bufio"
	"strings"
	"testing"

	"github.com/computemesh/computemesh/job"
)

// A record signed by its own provider that declares an absurd carbon
// intensity, or a malformed forecast, is malformed (issue #19): the
// DHT's validator (and the capacity topic's, which opens records alike)
// refuses it, as it does any other malformed field.
func TestCapacityValidatorRefusesCarbon(t *testing.T) {
	owner := newCapTestKey(t, 7)
	v := capacityValidator{network: "test", now: capTestClock}
	h := capTestNow.Truncate(3_600_000_000_000).UnixMilli()
	for _, c := range []struct {
		name string
		mut  func(c *job.Capacity)
		want string // "" valid
	}{
		{"declared", func(c *job.Capacity) { c.Carbon = 120 }, ""},
		{"with a forecast", func(c *job.Capacity) {
			c.Forecast = &job.Forecast{StartMS: h, Hours: []job.Intensity{100, 40}}
		}, ""},
		{"negative", func(c *job.Capacity) { c.Carbon = -5 }, "carbon: -5 gCO2e/kWh is out of range (0 to 5000)"},
		{"absurd", func(c *job.Capacity) { c.Carbon = 9000 }, "carbon: 9000 gCO2e/kWh is out of range"},
		{"an absurd hour", func(c *job.Capacity) {
			c.Forecast = &job.Forecast{StartMS: h, Hours: []job.Intensity{100, 6000}}
		}, "forecast.hours[1]: 6000 gCO2e/kWh is out of range"},
		{"not on the hour", func(c *job.Capacity) {
			c.Forecast = &job.Forecast{StartMS: h + 1, Hours: []job.Intensity{100}}
		}, "forecast.start_ms"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := capTestRecord(owner.id, 1)
			c.mut(rec)
			err := v.Validate(CapacityKey(owner.id), mustSeal(t, rec, owner.priv))
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("Validate: %v, want an error containing %q", err, c.want)
			}
		})
	}
}

// A peer's bid in its own name, on the bid stream, that declares an
// absurd carbon intensity is refused as malformed: counted, never handed
// to the client's auction.
func TestHostileCarbonBidStream(t *testing.T) {
	const netName = "test-carbon-bidstream"
	client, atk := listening(t, netName), listening(t, netName)
	l := &bidLog{jobs: map[string]int{}}
	if err := client.OnBid(l.handler); err != nil {
		t.Fatal(err)
	}
	connect(t, atk, client)
	bad, good := testBid(atk, 1), testBid(atk, 2)
	bad.Carbon, good.Carbon = 9000, 120
	for _, b := range []*job.Bid{bad, good} {
		s, err := atk.Host().NewStream(t.Context(), client.ID(), client.Protocol(bidProto))
		if err != nil {
			t.Fatal(err)
		}
		w := bufio.NewWriter(s)
		_ = WriteMsg(w, b)
		_ = w.Flush()
		_ = s.Close()
	}
	waitFor(t, "the bid of 9000 gCO2e/kWh is counted as malformed", func() bool { return client.Drops().Decode.Load() == 1 })
	waitFor(t, "the bid of 120 gCO2e/kWh is handled", func() bool { return l.count([]string{good.Job}) == 1 })
	if n := l.count([]string{bad.Job}); n != 0 {
		t.Fatalf("the handler got the bid of 9000 gCO2e/kWh %d times", n)
	}
}
