package client

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/job"
	"github.com/libp2p/go-libp2p/core/peer"
)

// capabilityFor picks the most specific DHT key for a need.
func capabilityFor(need job.Need) string {
	switch {
	case need.GPUModel != "" && !strings.ContainsAny(need.GPUModel, "*?["):
		return "gpu-model=" + job.ModelKey(need.GPUModel)
	case need.GPUs > 0 || need.MinVRAM > 0 || need.GPUModel != "":
		return "gpu"
	case need.Region != "" && !strings.ContainsAny(need.Region, "*?["):
		return "region=" + need.Region
	case need.Executor != "":
		return "executor=" + need.Executor
	default:
		return "cpu"
	}
}

// FindProviders finds providers through the DHT (the most specific
// capability key for need) and among those whose gossiped record this
// client holds (Heard), fetches and verifies their signed capacity
// records, measures RTT, and reports for each whether it matches need.
func (c *Client) FindProviders(ctx context.Context, need job.Need) []api.ProviderInfo {
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	found := c.mesh.FindProviders(lctx, capabilityFor(need))
	cancel()
	found = addPeers(found, slices.DeleteFunc(c.Heard(need), func(p peer.ID) bool { return p == c.mesh.ID() }))
	out := make([]api.ProviderInfo, len(found))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i, ai := range found {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			out[i] = c.providerInfo(ctx, ai, need)
		}()
	}
	wg.Wait()
	return out
}

func (c *Client) providerInfo(ctx context.Context, ai peer.AddrInfo, need job.Need) api.ProviderInfo {
	pi := api.ProviderInfo{Peer: ai.ID.String()}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	rec, err := c.mesh.GetCapacity(rctx, ai.ID)
	if err != nil {
		pi.Error = err.Error()
		return pi
	}
	pi.Record = rec
	pi.Mismatch = rec.Mismatch(need)
	if len(ai.Addrs) > 0 {
		c.mesh.Host().Peerstore().AddAddrs(ai.ID, ai.Addrs, time.Minute)
	}
	if rtt, err := c.mesh.Ping(rctx, ai.ID); err == nil {
		pi.RTT = rtt
	} else {
		pi.Unreachable = err.Error()
	}
	return pi
}
