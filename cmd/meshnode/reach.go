package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/internal/idref"
	"github.com/computemesh/computemesh/mesh"
	"github.com/computemesh/computemesh/node"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/spf13/cobra"
)

// The CLI reaches a node one of two ways: a running node's API (dialNode,
// or reachMesh with --data-dir) or an ephemeral client node that joins the
// mesh from --bootstrap for one command (startEphemeral, then joinMesh).

// meshAccess is a running node's API or an ephemeral client node.
type meshAccess struct {
	api  *api.Client
	node *node.Node
}

func (a *meshAccess) Close() {
	if a.node != nil {
		a.node.Close()
	}
}

// reachMesh opens the way to the mesh the flags name.
func reachMesh(ctx context.Context, cmd *cobra.Command) (*meshAccess, error) {
	f := cmd.Flags()
	dataDir, _ := f.GetString("data-dir")
	boot, _ := f.GetStringSlice("bootstrap")
	boot = splitList(boot)
	network, _ := f.GetString("network")
	if dataDir == "" && len(boot) == 0 {
		if _, err := os.Stat(filepath.Join(defaultDataDir(), api.AddrFile)); err != nil {
			return nil, usageErr("no mesh to reach: give --data-dir of a running node or --bootstrap addresses")
		}
		dataDir = defaultDataDir()
	}
	if dataDir != "" {
		c, err := api.Dial(dataDir)
		if err != nil {
			return nil, netErr(err)
		}
		return &meshAccess{api: c}, nil
	}
	n, err := startEphemeral(ctx, boot, network, "")
	if err != nil {
		return nil, err
	}
	if err := joinMesh(ctx, n, boot); err != nil {
		n.Close()
		return nil, err
	}
	return &meshAccess{node: n}, nil
}

// startEphemeral starts a short-lived client node on loopback that will
// join the mesh from boot; the caller closes it.
func startEphemeral(ctx context.Context, boot []string, network, records string) (*node.Node, error) {
	if _, err := mesh.ParseAddrInfos(boot); err != nil {
		return nil, usageErr("--bootstrap: %v", err)
	}
	n, err := node.New(ctx, node.Config{
		Mode: node.ModeClient, Ephemeral: true, Bootstrap: boot, Network: network,
		Listen: mesh.LoopbackListen, RecordsDir: records,
	})
	if err != nil {
		return nil, netErr(fmt.Errorf("starting a client node: %w", err))
	}
	return n, nil
}

// joinMeshWait is how long an ephemeral client waits for the mesh to show
// it a provider.
const joinMeshWait = 30 * time.Second

// joinMesh waits until the ephemeral node n has reached a bootstrap peer
// and sees a provider on the jobs topic. When it cannot, it says why and
// what to do (diagnoseJoin); none answering within joinMeshWait is not a
// network error but no provider: exit 3.
func joinMesh(ctx context.Context, n *node.Node, boot []string) error {
	if len(n.Mesh().Host().Network().Peers()) == 0 {
		return netErr(diagnoseBootstrap(ctx, n, boot))
	}
	start, said := time.Now(), false
	for {
		if j, _ := n.Mesh().TopicPeers(); len(j) > 0 {
			return nil
		}
		waited := time.Since(start)
		// Peers that speak only other networks' protocols: the wrong
		// --network (their identify has come in after a few seconds).
		if other := otherNetworks(n); len(other) > 0 && waited > 3*time.Second && !speaksOwn(n) {
			return usageErr("the peers reached through %s are on network %s, not %q: give --network %s",
				strings.Join(boot, ", "), strings.Join(other, ", "), n.Mesh().NetworkName(), other[0])
		}
		if waited > 2*time.Second && !said {
			said = true
			fmt.Fprintf(os.Stderr, "waiting up to %v for a provider on network %q (%d peers reached)...\n",
				joinMeshWait, n.Mesh().NetworkName(), len(n.Mesh().Host().Network().Peers()))
		}
		if waited > joinMeshWait {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return &exitError{code: exitUnscheduled, err: fmt.Errorf("no provider on network %q answered within %v (%d peers reached through %s): are providers running there? `meshnode status --providers` on one of them lists what it sees",
		n.Mesh().NetworkName(), joinMeshWait, len(n.Mesh().Host().Network().Peers()), strings.Join(boot, ", "))}
}

// diagnoseBootstrap dials each bootstrap address again to say why none
// answered: nothing listening, another node's peer ID there, or the error.
func diagnoseBootstrap(ctx context.Context, n *node.Node, boot []string) error {
	ais, _ := mesh.ParseAddrInfos(boot)
	var why []string
	for _, ai := range ais {
		dctx, cancel := context.WithTimeout(network.WithForceDirectDial(ctx, "diagnosing the bootstrap peers"), 5*time.Second)
		err := n.Mesh().Host().Connect(dctx, ai) // past the failed dial's backoff
		cancel()
		switch {
		case err == nil:
			return nil
		case strings.Contains(err.Error(), "peer id mismatch"):
			why = append(why, fmt.Sprintf("%s: another node listens there (not peer %s): take the address from its `meshnode status`", addrsOf(ai), idref.Short(ai.ID.String())))
		case strings.Contains(err.Error(), "connection refused"):
			why = append(why, fmt.Sprintf("%s: nothing listens there: is the node running, on this port?", addrsOf(ai)))
		default:
			why = append(why, fmt.Sprintf("%s: %v", addrsOf(ai), err))
		}
	}
	return fmt.Errorf("no bootstrap peer answered:\n  %s", strings.Join(why, "\n  "))
}

func addrsOf(ai peer.AddrInfo) string {
	out := make([]string, 0, len(ai.Addrs))
	for _, a := range ai.Addrs {
		out = append(out, a.String())
	}
	return strings.Join(out, ", ")
}

// speaksOwn reports whether a peer n reached speaks n's own network.
func speaksOwn(n *node.Node) bool {
	prefix := "/computemesh/" + n.Mesh().NetworkName() + "/"
	ps := n.Mesh().Host().Peerstore()
	for _, p := range n.Mesh().Host().Network().Peers() {
		protos, _ := ps.GetProtocols(p)
		for _, pr := range protos {
			if strings.HasPrefix(string(pr), prefix) {
				return true
			}
		}
	}
	return false
}

// otherNetworks returns the computemesh networks other than n's that the
// peers n reached speak (their protocols name them), sorted.
func otherNetworks(n *node.Node) []string {
	own := n.Mesh().NetworkName()
	seen := map[string]bool{}
	ps := n.Mesh().Host().Peerstore()
	for _, p := range n.Mesh().Host().Network().Peers() {
		protos, _ := ps.GetProtocols(p)
		for _, pr := range protos {
			rest, ok := strings.CutPrefix(string(pr), "/computemesh/")
			if net, _, ok2 := strings.Cut(rest, "/"); ok && ok2 && net != own {
				seen[net] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(seen))
}
