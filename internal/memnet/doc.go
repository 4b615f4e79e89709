// Package memnet is an in-memory libp2p transport for simulations of many
// nodes in one process (the 500-node scale benchmark): real libp2p hosts —
// swarm, identify, the connection manager, every protocol — whose
// connections are pairs of in-process objects instead of sockets.
//
// A connection comes out of Dial already "upgraded" (like QUIC's): the
// transport authenticates the peer from its key, which the listening
// transport holds, and multiplexes streams itself, so there is no
// handshake and no stream multiplexer to spend CPU on. A stream is two
// bounded byte queues; no goroutine runs per stream or per connection,
// and an idle stream holds no buffer. Deadlines, half-closes, resets and
// the closing of a connection behave as a libp2p stream's do (the
// transport passes go-libp2p's transport test suite).
//
// Addresses are ordinary /ip4/.../tcp/PORT multiaddrs that the transport
// claims for itself; nothing is ever sent to a socket. One Network is one
// isolated address space: hosts dial each other through it by address
// (the exact address a host listens on: an unspecified one such as
// 0.0.0.0 is not reached by a dial to a concrete IP).
package memnet
