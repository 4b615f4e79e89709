package sim

import (
	"compress/gzip"
	"embed"
	"fmt"
	"io/fs"
)

// The RTT table ships with the code, derived from the shared data set, so
// that `meshnode sim` runs from a clean clone. data/servers.csv holds the
// servers' id, name, country, continent and coordinates; data/pings.csv.gz
// one row per measured city pair, its RTT the mean of the directions
// measured (what LoadTopology computes from the whole data set): loaded,
// it gives the same Topology, to the bit (TestEmbeddedTopology). Source and
// attribution: data/README.md.

//go:embed data/servers.csv data/pings.csv.gz
var embedded embed.FS

// Embedded files.
const (
	embeddedServers = "data/servers.csv"
	embeddedPings   = "data/pings.csv.gz"
)

// EmbeddedSource says where the embedded table comes from.
const EmbeddedSource = "the embedded RTT table (WonderProxy pings of 2020-07-19, see sim/data/README.md)"

// LoadEmbedded returns the topology of the embedded RTT table.
func LoadEmbedded() (*Topology, error) { return loadDerived(embedded) }

// loadDerived reads the derived files from fsys.
func loadDerived(fsys fs.FS) (*Topology, error) {
	sf, err := fsys.Open(embeddedServers)
	if err != nil {
		return nil, fmt.Errorf("embedded servers: %w", err)
	}
	defer sf.Close()
	cities, err := readServers(sf, embeddedServers)
	if err != nil {
		return nil, err
	}
	pf, err := fsys.Open(embeddedPings)
	if err != nil {
		return nil, fmt.Errorf("embedded pings: %w", err)
	}
	defer pf.Close()
	zr, err := gzip.NewReader(pf)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", embeddedPings, err)
	}
	return readPings(zr, embeddedPings, cities)
}
