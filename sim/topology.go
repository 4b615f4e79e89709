package sim

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// File names of the shared RTT data set (see shared/data/README.md).
const (
	PingsFile   = "wonderproxy-pings-2020-07-19.csv"
	ServersFile = "wonderproxy-servers-2020-07-19.csv"
)

// City is one place nodes live in: a WonderProxy server location.
type City struct {
	ID        int
	Name      string
	Country   string
	Continent int // the data set's code: 1 N. America, 2 S. America, 3 Europe and Asia, 4 Oceania, 5 Africa
	Lat, Lon  float64
	Region    string // the computemesh region name nodes here advertise
}

// Topology is a set of cities and the round-trip time between each pair.
type Topology struct {
	Cities []City
	rtt    []float64 // ms, len(Cities)², symmetric
	// Filled counts the city pairs measured in neither direction, whose RTT
	// was estimated from the great-circle distance instead.
	Filled int
}

// RTT returns the round-trip time between cities a and b (indexes into
// Cities).
func (t *Topology) RTT(a, b int) time.Duration {
	return time.Duration(t.rtt[a*len(t.Cities)+b] * float64(time.Millisecond))
}

// OneWay is half the round-trip time: the latency of one message.
func (t *Topology) OneWay(a, b int) time.Duration { return t.RTT(a, b) / 2 }

// RegionOf maps a city to a computemesh region name by continent and
// longitude (the data set puts Europe and Asia on one continent).
func RegionOf(continent int, lat, lon float64) string {
	switch continent {
	case 1:
		if lon < -100 {
			return "us-west"
		}
		return "us-east"
	case 2:
		return "sa-east"
	case 3:
		switch {
		case lon >= 100 && lat > 20:
			return "ap-northeast"
		case lon >= 60:
			return "ap-southeast"
		case lon < 10:
			return "eu-west"
		default:
			return "eu-central"
		}
	case 4:
		return "ap-southeast"
	case 5:
		return "af-south"
	}
	return "unknown"
}

// LoadTopology reads the servers and pings CSV files from dir. RTT is the
// avg column; a pair measured in one direction only uses that direction for
// both, and a pair measured in neither gets an estimate from the distance
// (counted in Filled). Errors name the file, line and field.
func LoadTopology(dir string) (*Topology, error) {
	sf, err := os.Open(filepath.Join(dir, ServersFile))
	if err != nil {
		return nil, fmt.Errorf("servers: %w", err)
	}
	defer sf.Close()
	cities, err := readServers(sf, ServersFile)
	if err != nil {
		return nil, err
	}
	pf, err := os.Open(filepath.Join(dir, PingsFile))
	if err != nil {
		return nil, fmt.Errorf("pings: %w", err)
	}
	defer pf.Close()
	return readPings(pf, PingsFile, cities)
}

// readCSV reads a CSV file with a header, calling row for each record with
// a lookup of the named columns.
func readCSV(r io.Reader, name string, want []string, row func(line int, field func(string) string) error) error {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return fmt.Errorf("%s: header: %w", name, err)
	}
	col := map[string]int{}
	for i, h := range header {
		if _, dup := col[h]; !dup {
			col[h] = i
		}
	}
	for _, w := range want {
		if _, ok := col[w]; !ok {
			return fmt.Errorf("%s: header: no column %q", name, w)
		}
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err) // a csv.ParseError names the line
		}
		line, _ := cr.FieldPos(0)
		get := func(c string) string {
			if i := col[c]; i < len(rec) {
				return rec[i]
			}
			return ""
		}
		if err := row(line, get); err != nil {
			return fmt.Errorf("%s:%d: %w", name, line, err)
		}
	}
}

func parseFloat(field func(string) string, name string) (float64, error) {
	v, err := strconv.ParseFloat(field(name), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%s: %q is not a number", name, field(name))
	}
	return v, nil
}

func parseInt(field func(string) string, name string) (int, error) {
	v, err := strconv.Atoi(field(name))
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not an integer", name, field(name))
	}
	return v, nil
}

func readServers(r io.Reader, name string) ([]City, error) {
	var cities []City
	seen := map[int]bool{}
	err := readCSV(r, name, []string{"id", "name", "country", "continent", "latitude", "longitude"}, func(_ int, f func(string) string) error {
		var c City
		var err error
		if c.ID, err = parseInt(f, "id"); err != nil {
			return err
		}
		if seen[c.ID] {
			return fmt.Errorf("id: %d given twice", c.ID)
		}
		seen[c.ID] = true
		if c.Continent, err = parseInt(f, "continent"); err != nil {
			return err
		}
		if c.Lat, err = parseFloat(f, "latitude"); err != nil {
			return err
		}
		if c.Lon, err = parseFloat(f, "longitude"); err != nil {
			return err
		}
		c.Name, c.Country = f("name"), f("country")
		c.Region = RegionOf(c.Continent, c.Lat, c.Lon)
		cities = append(cities, c)
		return nil
	})
	if err == nil && len(cities) < 2 {
		err = fmt.Errorf("%s: %d cities, need at least 2", name, len(cities))
	}
	return cities, err
}

func readPings(r io.Reader, name string, cities []City) (*Topology, error) {
	t, err := readPingsRaw(r, name, cities)
	if err != nil {
		return nil, err
	}
	t.complete()
	return t, nil
}

// readPingsRaw is readPings before complete: unmeasured directions are −1.
func readPingsRaw(r io.Reader, name string, cities []City) (*Topology, error) {
	n := len(cities)
	idx := make(map[int]int, n)
	for i, c := range cities {
		idx[c.ID] = i
	}
	t := &Topology{Cities: cities, rtt: make([]float64, n*n)}
	for i := range t.rtt {
		t.rtt[i] = -1
	}
	err := readCSV(r, name, []string{"source", "destination", "avg"}, func(_ int, f func(string) string) error {
		src, err := parseInt(f, "source")
		if err != nil {
			return err
		}
		dst, err := parseInt(f, "destination")
		if err != nil {
			return err
		}
		avg, err := parseFloat(f, "avg")
		if err != nil {
			return err
		}
		if avg < 0 {
			return fmt.Errorf("avg: %g is negative", avg)
		}
		a, okA := idx[src]
		b, okB := idx[dst]
		if !okA || !okB {
			return nil // a server missing from the servers file: no city to put it in
		}
		t.rtt[a*n+b] = avg
		return nil
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// complete makes the table symmetric (the mean of both directions, or the
// one measured) and estimates unmeasured pairs.
func (t *Topology) complete() {
	n := len(t.Cities)
	for a := range n {
		t.rtt[a*n+a] = 0
		for b := a + 1; b < n; b++ {
			v, ok := measuredRTT(t.rtt[a*n+b], t.rtt[b*n+a])
			if !ok {
				v = estimateRTT(&t.Cities[a], &t.Cities[b])
				t.Filled++
			}
			t.rtt[a*n+b], t.rtt[b*n+a] = v, v
		}
	}
}

// measuredRTT is a pair's round trip from its two directions (−1: not
// measured): their mean, or the one measured; ok is false for neither.
func measuredRTT(ab, ba float64) (v float64, ok bool) {
	switch {
	case ab >= 0 && ba >= 0:
		return (ab + ba) / 2, true
	case ab >= 0:
		return ab, true
	case ba >= 0:
		return ba, true
	}
	return 0, false
}

// estimateRTT guesses a round trip from the great-circle distance: light in
// fibre covers about 100 km per ms of round trip; real routes are about
// 1.5 times longer, plus a few ms of equipment.
func estimateRTT(a, b *City) float64 {
	const earthKm = 6371.0
	rad := math.Pi / 180
	dLat, dLon := (b.Lat-a.Lat)*rad, (b.Lon-a.Lon)*rad
	h := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(a.Lat*rad)*math.Cos(b.Lat*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	km := 2 * earthKm * math.Asin(math.Sqrt(h))
	return 1.5*km/100 + 5
}

// SyntheticTopology is a small made-up table of six cities, for tests of the
// simulator's machinery only; quality figures need the real data.
func SyntheticTopology() *Topology {
	cities := []City{
		{ID: 1, Name: "Westport", Continent: 3, Lat: 51.5, Lon: -0.1},
		{ID: 2, Name: "Midburg", Continent: 3, Lat: 50.1, Lon: 8.7},
		{ID: 3, Name: "Eastfield", Continent: 1, Lat: 40.7, Lon: -74},
		{ID: 4, Name: "Baycity", Continent: 1, Lat: 37.8, Lon: -122.4},
		{ID: 5, Name: "Harbour", Continent: 3, Lat: 1.3, Lon: 103.8},
		{ID: 6, Name: "Southport", Continent: 2, Lat: -23.5, Lon: -46.6},
	}
	for i := range cities {
		cities[i].Region = RegionOf(cities[i].Continent, cities[i].Lat, cities[i].Lon)
	}
	t := &Topology{Cities: cities, rtt: make([]float64, len(cities)*len(cities))}
	for i := range t.rtt {
		t.rtt[i] = -1
	}
	t.complete()
	t.Filled = 0
	return t
}
