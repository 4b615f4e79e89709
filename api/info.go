package api

import (
	"time"

	"github.com/computemesh/computemesh/job"
)

// Info describes a running node (GET /v1/info).
type Info struct {
	PeerID   string        `json:"peer_id"`
	Addrs    []string      `json:"addrs"`
	Mode     string        `json:"mode"`
	Network  string        `json:"network"`
	Region   string        `json:"region,omitempty"`
	Rates    job.Rates     `json:"rates"`
	Capacity job.Resources `json:"capacity"`
	Free     job.Resources `json:"free"`
	Running  int           `json:"running"`            // jobs holding a reservation
	Queued   int           `json:"queued"`             // awarded jobs waiting for capacity
	Draining bool          `json:"draining,omitempty"` // a provider taking no new jobs (meshnode drain)
	API      string        `json:"api,omitempty"`
	Peers    int           `json:"peers"`
	Balance  Session       `json:"balance"`
	Dropped  int64         `json:"dropped_messages"`
	OverRate int64         `json:"over_rate_messages"` // job requests ignored: over their author's rate
	Record   *job.Capacity `json:"record,omitempty"`   // a provider's advertised capacity
	// Conns counts open connections, direct and through a relay.
	Conns ConnStats `json:"conns"`
	// Relayed are the node's addresses through a relay (a node behind NAT).
	Relayed []string `json:"relayed_addrs,omitempty"`
	// RelayedPeers are the peers this node reaches only through a relay.
	RelayedPeers []string `json:"relayed_peers,omitempty"`
	// HolePunch reports the node's direct-connection upgrades (DCUtR).
	HolePunch HolePunchStats `json:"hole_punch"`
	// RelayService says the node relays for peers behind NAT.
	RelayService bool `json:"relay_service,omitempty"`
	// ExecConfinement says how exec commands run (a provider offering
	// exec): confined, and how, or unconfined and why.
	ExecConfinement string    `json:"exec_confinement,omitempty"`
	StartedAt       time.Time `json:"-"`
}

// Session is what a node earned and spent since it started (its ledger
// holds the whole history: GET /v1/credits).
type Session struct {
	Earned   job.Credits `json:"earned_nano"`
	Spent    job.Credits `json:"spent_nano"`
	JobsRun  int         `json:"jobs_run"`  // as a provider
	JobsPaid int         `json:"jobs_paid"` // as a client
}

// ConnStats and HolePunchStats have the fields of mesh's types of the same
// names, which the node converts: the API's types import no libp2p, so
// that a program using this package's client need not build it.

// ConnStats counts a node's open connections.
type ConnStats struct {
	Direct  int `json:"direct"`
	Relayed int `json:"relayed"` // limited connections through a relay
}

// HolePunchStats reports a node's direct-connection upgrades (DCUtR).
type HolePunchStats struct {
	DirectDials int    `json:"direct_dials"` // direct dials tried before punching
	Started     int    `json:"started"`      // hole punches started
	Succeeded   int    `json:"succeeded"`
	Failed      int    `json:"failed"`
	LastError   string `json:"last_error,omitempty"`
	// Active says whether DCUtR runs at all: go-libp2p starts it only once
	// the host has a public address.
	Active bool `json:"active"`
}
