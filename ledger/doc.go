// Package ledger keeps credits that cannot be forged or lost (issue #6).
//
// Credits move only by signed records of package job: a Receipt (signed by
// the payer and counter-signed by the payee) moves an amount from payer to
// payee; a Grant signed by the network's faucet key creates credits. A Book
// holds what a node has seen, verified, and derives every peer's balance
// (granted + earned − spent) from it. Two receipts of one payer with one
// sequence number are a double spend: both count, so a balance never
// depends on the order in which records arrive, and the payer is marked
// fraudulent.
//
// A Ledger is a Book backed by an append-only log file: a record is
// checked, then written and fsynced, then applied, so what an Add
// acknowledges survives a kill -9. Open replays the log; Verify re-checks
// every stored record's signatures.
//
// Signatures are checked by an injected Verifier (the node maps a peer ID to
// its public key), so this package imports only job, market,
// internal/atomicfile (which creates the log whole, and itself imports only
// the standard library) and the standard library, and never libp2p.
package ledger
