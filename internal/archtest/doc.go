// Package archtest holds no code, only tests of computemesh's import graph:
// the leaf packages (job, market, scheduler, sim, ledger) stay free of libp2p and of the
// network layers, so that they build and test without a network; the role
// packages (credits) stay off the node that composes them; and nothing
// outside cmd imports cmd.
package archtest
