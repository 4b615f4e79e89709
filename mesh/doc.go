// Package mesh is computemesh's network layer: a libp2p host on TCP and
// QUIC (Noise and TLS, the resource manager on, AutoNAT, relay client and hole
// punching enabled, never UPnP), a Kademlia DHT under the protocol prefix
// /computemesh/<network>, GossipSub topics for job requests and bids with
// validators at the edge, length-prefixed stream framing, a content-addressed
// blob exchange for modules, capability announcements and RTT measurement.
//
// Networks are separated by prefixes: the DHT protocol prefix
// /computemesh/NAME, topics computemesh/NAME/..., stream protocols
// /computemesh/NAME/<proto>/1.0.0. Nodes of different networks never mix.
package mesh
