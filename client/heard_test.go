package client

import (
	"slices"
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/mesh"
	"github.com/libp2p/go-libp2p/core/peer"
)

// A client lists as heard of the providers whose gossiped record it holds,
// unexpired and able to serve the need; a newer record replaces an older
// one, never the other way round.
func TestHeard(t *testing.T) {
	now := time.UnixMilli(1_000_000)
	c := &Client{now: func() time.Time { return now }}
	ids := map[string]peer.ID{}
	for _, name := range []string{"eu", "us", "old", "ap"} {
		id, err := peer.IDFromPrivateKey(mesh.TestKey(name))
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = id
	}
	rec := func(p string, seq uint64, region string, expires time.Duration, gpus int) *job.Capacity {
		r := &job.Capacity{Peer: ids[p].String(), Seq: seq, Region: region, Executors: []string{job.ExecutorWASM},
			Total: job.Resources{CPUMillis: 4000, MemoryBytes: 4 << 30}, ExpiresMS: now.Add(expires).UnixMilli()}
		for range gpus {
			r.GPUs = append(r.GPUs, job.GPU{Vendor: "nvidia", Model: "H100", VRAMBytes: 80 << 30})
		}
		return r
	}
	c.onCapacity(rec("eu", 1, "eu-west", time.Minute, 0))
	c.onCapacity(rec("us", 1, "us-east", time.Minute, 1))
	c.onCapacity(rec("old", 1, "eu-west", -time.Second, 0))       // expired
	c.onCapacity(rec("eu", 0, "eu-west", -time.Second, 0))        // older: ignored
	c.onCapacity(rec("us", 2, "us-east", time.Minute, 1))         // newer
	c.onCapacity(rec("ap", 1, "ap-south", 5*time.Millisecond, 0)) // expires soon
	now = now.Add(10 * time.Millisecond)
	for _, tt := range []struct {
		need job.Need
		want []peer.ID
	}{
		{job.Need{}, []peer.ID{ids["eu"], ids["us"]}},
		{job.Need{Region: "eu-*"}, []peer.ID{ids["eu"]}},
		{job.Need{GPUs: 1}, []peer.ID{ids["us"]}},
		{job.Need{CPUMillis: 8000}, nil},
	} {
		got := c.Heard(tt.need)
		slices.Sort(got)
		slices.Sort(tt.want)
		if !slices.Equal(got, tt.want) {
			t.Errorf("Heard(%+v) = %v, want %v", tt.need, got, tt.want)
		}
	}
	found := addPeers([]peer.AddrInfo{{ID: "eu"}}, []peer.ID{"us", "eu", "us"})
	if len(found) != 2 || found[0].ID != "eu" || found[1].ID != "us" {
		t.Fatalf("addPeers: %v, want eu then us, once each", found)
	}
}
