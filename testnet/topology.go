package testnet

import (
	"fmt"

	"github.com/computemesh/computemesh/mesh"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Roles of testnet nodes.
const (
	RoleBootstrap = "bootstrap" // fixed test identity, relay service, gossip relay
	RoleProvider  = "provider"
	RoleClient    = "client"
	RoleExtra     = "extra" // started by a scenario (the NAT nodes), not by compose
)

// NetworkName is the computemesh network the testnet runs (a test network:
// delays, simulated GPUs and the test faucet are allowed on it).
const NetworkName = "testnet"

// Node is one node of the testnet topology.
type Node struct {
	Name   string
	Role   string
	Region string
	Net    string // docker network: "a", "b", or "ab" for both
	// Prices in credits per hour; a GPU provider declares a simulated GPU
	// ("MODEL:VRAM") with one flat GPU-hour price.
	CPUPrice string
	GPU      string
	GPUPrice string
	// CPUs and Memory are the capacity a provider offers (declared: the
	// testnet's machines share one host).
	CPUs, Memory string
	// NoCredits starts the node without the test faucet: a network without
	// credits (every node of a testnet must agree).
	NoCredits bool
}

// Topology is the testnet of docker-compose.yml: 2 bootstrap nodes, 6
// providers across 4 regions (3 CPU-only, 3 with simulated GPUs; 1 to 4
// cores, 1 to 8 GiB), 1 client.
// TestComposeMatchesTopology keeps the two in step.
func Topology() []Node {
	return []Node{
		{Name: "boot1", Role: RoleBootstrap, Net: "ab"},
		{Name: "boot2", Role: RoleBootstrap, Net: "ab"},
		{Name: "prov-euw-cpu", Role: RoleProvider, Region: "eu-west", Net: "a", CPUPrice: "0.9", CPUs: "2", Memory: "2GiB"},
		{Name: "prov-euw-a100", Role: RoleProvider, Region: "eu-west", Net: "a", CPUPrice: "1.3", GPU: "a100:40GiB", GPUPrice: "2.0", CPUs: "4", Memory: "4GiB"},
		{Name: "prov-euc-cpu", Role: RoleProvider, Region: "eu-central", Net: "a", CPUPrice: "1.1", CPUs: "1", Memory: "1GiB"},
		{Name: "prov-use-cpu", Role: RoleProvider, Region: "us-east", Net: "b", CPUPrice: "0.7", CPUs: "2", Memory: "2GiB"},
		{Name: "prov-use-h100", Role: RoleProvider, Region: "us-east", Net: "b", CPUPrice: "1.2", GPU: "h100:80GiB", GPUPrice: "3.5", CPUs: "4", Memory: "8GiB"},
		{Name: "prov-aps-l4", Role: RoleProvider, Region: "ap-southeast", Net: "b", CPUPrice: "0.8", GPU: "l4:24GiB", GPUPrice: "0.8", CPUs: "2", Memory: "2GiB"},
		{Name: "client", Role: RoleClient, Net: "ab"},
	}
}

// ProviderArgs are the `meshnode start` flags of a provider beyond the
// network, addresses and data dir.
func (n Node) ProviderArgs() []string {
	args := []string{"--mode", "provider", "--region", n.Region, "--price-cpu-hour", n.CPUPrice,
		"--cpus", n.CPUs, "--memory", n.Memory, "--queue", "64"}
	if !n.NoCredits {
		args = append(args, "--test-faucet")
	}
	if n.GPU != "" {
		args = append(args, "--simulate-gpu", n.GPU, "--price-gpu-hour", n.GPUPrice)
	}
	return args
}

// BootstrapID is the peer ID of a bootstrap node: `start --test-identity
// NAME` derives its key from its name.
func BootstrapID(name string) string {
	id, err := peer.IDFromPrivateKey(mesh.TestKey(name))
	if err != nil {
		panic(fmt.Sprintf("testnet: test key of %s: %v", name, err)) // an Ed25519 key always has an ID
	}
	return id.String()
}
