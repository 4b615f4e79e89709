package sim

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const testServers = `id,name,title,location,state,country,state_abbv,continent,latitude,longitude,selected,,,11
1,Paris,Paris,Paris,,France,,3,48.85,2.35,1,,,
2,Berlin,Berlin,Berlin,,Germany,,3,52.52,13.4,1,,,
3,Tokyo,Tokyo,Tokyo,,Japan,,3,35.68,139.7,1,,,
`

func TestReadTopology(t *testing.T) {
	tests := []struct {
		name, servers, pings string
		wantErr              string // substring; "" for success
		check                func(t *testing.T, topo *Topology)
	}{
		{
			name:    "both directions averaged, one direction copied, none estimated",
			servers: testServers,
			pings:   "source,destination,min,avg,max,mdev\n1,2,9,10,11,0.1\n2,1,11,12,13,0.1\n3,1,200,220,240,1\n9,1,1,1,1,0\n",
			check: func(t *testing.T, topo *Topology) {
				if got := topo.RTT(0, 1); got != 11*time.Millisecond {
					t.Errorf("Paris-Berlin RTT %v, want 11ms (mean of 10 and 12)", got)
				}
				if got := topo.RTT(0, 2); got != 220*time.Millisecond || topo.RTT(2, 0) != got {
					t.Errorf("Paris-Tokyo RTT %v / %v, want 220ms both ways", got, topo.RTT(2, 0))
				}
				if topo.Filled != 1 || topo.RTT(1, 2) <= 100*time.Millisecond {
					t.Errorf("Berlin-Tokyo: filled %d, RTT %v; want 1 estimated pair over 100ms", topo.Filled, topo.RTT(1, 2))
				}
				if topo.Cities[0].Region != "eu-west" || topo.Cities[1].Region != "eu-central" || topo.Cities[2].Region != "ap-northeast" {
					t.Errorf("regions %s %s %s", topo.Cities[0].Region, topo.Cities[1].Region, topo.Cities[2].Region)
				}
				if topo.OneWay(0, 1) != topo.RTT(0, 1)/2 {
					t.Errorf("one way %v is not half the RTT", topo.OneWay(0, 1))
				}
			},
		},
		{name: "bad avg", servers: testServers, pings: "source,destination,min,avg,max,mdev\n1,2,9,ten,11,0.1\n",
			wantErr: PingsFile + ":2: avg: \"ten\" is not a number"},
		{name: "negative avg", servers: testServers, pings: "source,destination,min,avg,max,mdev\n1,2,9,-1,11,0.1\n",
			wantErr: PingsFile + ":2: avg: -1 is negative"},
		{name: "missing column", servers: testServers, pings: "source,destination,min\n1,2,9\n",
			wantErr: PingsFile + `: header: no column "avg"`},
		{name: "bad latitude", servers: strings.Replace(testServers, "52.52", "north", 1), pings: "source,destination,avg\n",
			wantErr: ServersFile + ":3: latitude: \"north\" is not a number"},
		{name: "duplicate id", servers: testServers + "2,Again,,,,,,3,1,1,1,,,\n", pings: "source,destination,avg\n",
			wantErr: ServersFile + ":5: id: 2 given twice"},
		{name: "bad quoting", servers: testServers + "4,\"Open,,,,,,3,1,1\n", pings: "source,destination,avg\n",
			wantErr: ServersFile + ": parse error on line 5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, body := range map[string]string{ServersFile: tt.servers, PingsFile: tt.pings} {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			topo, err := LoadTopology(dir)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, topo)
		})
	}
}

func TestLoadTopologyMissing(t *testing.T) {
	if _, err := LoadTopology(t.TempDir()); err == nil || !strings.Contains(err.Error(), ServersFile) {
		t.Fatalf("error %v, want one naming %s", err, ServersFile)
	}
}

// realData returns the shared data folder, or skips the test.
func realData(tb testing.TB) string {
	tb.Helper()
	if d := os.Getenv("COMPUTEMESH_SIM_DATA"); d != "" {
		return d
	}
	wd, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	d := FindData(wd)
	if d == "" {
		tb.Skip("the shared RTT data set is not beside this checkout (set COMPUTEMESH_SIM_DATA to its folder)")
	}
	return d
}

func TestRealTopology(t *testing.T) {
	topo, err := LoadTopology(realData(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(topo.Cities) < 200 {
		t.Fatalf("%d cities, want the data set's 245 or so", len(topo.Cities))
	}
	for i := range topo.Cities {
		if topo.Cities[i].Region == "unknown" {
			t.Errorf("city %s has no region", topo.Cities[i].Name)
		}
		for j := range topo.Cities {
			if i != j && (topo.RTT(i, j) <= 0 || topo.RTT(i, j) > 2*time.Second) {
				t.Fatalf("RTT %s-%s is %v", topo.Cities[i].Name, topo.Cities[j].Name, topo.RTT(i, j))
			}
		}
	}
	t.Logf("%d cities, %d pairs estimated", len(topo.Cities), topo.Filled)
}
