package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/mesh"
	"github.com/computemesh/computemesh/node"
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
	n, err := startEphemeral(ctx, boot, network)
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
func startEphemeral(ctx context.Context, boot []string, network string) (*node.Node, error) {
	if _, err := mesh.ParseAddrInfos(boot); err != nil {
		return nil, usageErr("--bootstrap: %v", err)
	}
	n, err := node.New(ctx, node.Config{
		Mode: node.ModeClient, Ephemeral: true, Bootstrap: boot, Network: network,
		Listen: mesh.LoopbackListen,
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
// and sees a provider on the jobs topic.
func joinMesh(ctx context.Context, n *node.Node, boot []string) error {
	if len(n.Mesh().Host().Network().Peers()) == 0 {
		return netErr(fmt.Errorf("no bootstrap peer answered (%s): is a node running there?", strings.Join(boot, ", ")))
	}
	wctx, cancel := context.WithTimeout(ctx, joinMeshWait)
	defer cancel()
	if err := n.Mesh().WaitProviders(wctx, 1); err != nil {
		return netErr(fmt.Errorf("joining the mesh from %s: %w", strings.Join(boot, ","), err))
	}
	return nil
}
