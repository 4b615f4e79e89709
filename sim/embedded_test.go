package sim

import (
	"compress/gzip"
	"encoding/csv"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

var update = flag.Bool("update", false, "rewrite sim/data from the shared data set")

// TestEmbeddedTopology: the embedded table loads on its own (a clean
// clone), and, where the shared data set is at hand, gives exactly the
// topology LoadTopology reads from it. With -update it is written anew
// from the shared data set.
func TestEmbeddedTopology(t *testing.T) {
	wd, _ := os.Getwd()
	shared := FindData(wd)
	if *update {
		if shared == "" {
			t.Fatal("-update: the shared data set is not beside this checkout")
		}
		writeEmbedded(t, shared, "data")
	}
	got, err := LoadEmbedded()
	if *update { // the files just written, not those built in
		got, err = loadDerived(os.DirFS("."))
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Cities) < 200 || got.RTT(0, 1) <= 0 {
		t.Fatalf("embedded table: %d cities, RTT(0, 1) %v", len(got.Cities), got.RTT(0, 1))
	}
	if shared == "" {
		t.Logf("the shared data set is not here: the embedded table (%d cities) was not compared with it", len(got.Cities))
		return
	}
	want, err := LoadTopology(shared)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Cities, want.Cities) || !slices.Equal(got.rtt, want.rtt) || got.Filled != want.Filled {
		t.Fatalf("the embedded table differs from the shared data set (%d and %d cities, %d and %d pairs estimated): go test ./sim -run TestEmbeddedTopology -update",
			len(got.Cities), len(want.Cities), got.Filled, want.Filled)
	}
}

// writeEmbedded writes the derived files into dir.
func writeEmbedded(t *testing.T, shared, dir string) {
	t.Helper()
	sf, err := os.Open(filepath.Join(shared, ServersFile))
	if err != nil {
		t.Fatal(err)
	}
	defer sf.Close()
	cities, err := readServers(sf, ServersFile)
	if err != nil {
		t.Fatal(err)
	}
	pf, err := os.Open(filepath.Join(shared, PingsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	raw, err := readPingsRaw(pf, PingsFile, cities)
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(filepath.Join(dir, "servers.csv"))
	if err != nil {
		t.Fatal(err)
	}
	w := csv.NewWriter(out)
	_ = w.Write([]string{"id", "name", "country", "continent", "latitude", "longitude"})
	for _, c := range cities {
		_ = w.Write([]string{strconv.Itoa(c.ID), c.Name, c.Country, strconv.Itoa(c.Continent), ftoa(c.Lat), ftoa(c.Lon)})
	}
	w.Flush()
	if err := w.Error(); err != nil || out.Close() != nil {
		t.Fatal(err)
	}
	gzf, err := os.Create(filepath.Join(dir, "pings.csv.gz"))
	if err != nil {
		t.Fatal(err)
	}
	zw, _ := gzip.NewWriterLevel(gzf, gzip.BestCompression)
	w = csv.NewWriter(zw)
	_ = w.Write([]string{"source", "destination", "avg"})
	n := len(cities)
	for a := range n {
		for b := a + 1; b < n; b++ {
			v, ok := measuredRTT(raw.rtt[a*n+b], raw.rtt[b*n+a])
			if !ok {
				continue // estimated on loading, as from the whole set
			}
			_ = w.Write([]string{strconv.Itoa(cities[a].ID), strconv.Itoa(cities[b].ID), ftoa(v)})
		}
	}
	w.Flush()
	if err := w.Error(); err != nil || zw.Close() != nil || gzf.Close() != nil {
		t.Fatal(err)
	}
}

func ftoa(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
