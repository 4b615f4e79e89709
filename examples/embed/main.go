// Command embed shows how a Go program embeds a computemesh client node:
// it joins a mesh from a bootstrap address, runs the bundled hello module on
// the cheapest provider and prints the result.
//
//	go run ./examples/embed -bootstrap /ip4/127.0.0.1/tcp/4001/p2p/12D3KooW...
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/computemesh/computemesh/examples/hello"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/mesh"
	"github.com/computemesh/computemesh/node"
)

func main() {
	boot := flag.String("bootstrap", "", "multiaddr of a node of the mesh, ending in /p2p/<peer ID>")
	network := flag.String("network", "devnet", "network name")
	flag.Parse()
	if *boot == "" {
		fmt.Fprintln(os.Stderr, "usage: embed -bootstrap MULTIADDR [-network NAME]")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// An ephemeral client: a fresh identity, DHT client mode, loopback only.
	n, err := node.New(ctx, node.Config{
		Mode: node.ModeClient, Ephemeral: true, Network: *network,
		Bootstrap: []string{*boot}, Listen: mesh.LoopbackListen,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer n.Close()
	if err := n.Mesh().WaitProviders(ctx, 1); err != nil {
		log.Fatal(err)
	}

	module := hello.Module()
	out, err := n.Submit(ctx, node.Submission{
		Module: module,
		Spec: &job.Spec{
			Executor: job.ExecutorWASM, Module: job.ModuleCID(module).String(), Name: "hello.wasm",
			Args:      []string{"from an embedded client"},
			Resources: job.Resources{CPUMillis: 1000, MemoryBytes: 64 << 20},
			TimeoutMS: 10_000, Policy: job.PolicyCost,
		},
	}, func(e job.Event) {
		if e.Kind == job.EventWinner {
			fmt.Printf("winner %s: %s\n", e.Provider, e.Message)
		}
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s on %s, charged %s credits:\n%s", out.State, out.Provider, out.Charge, out.Stdout)
}
