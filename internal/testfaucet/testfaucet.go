// Package testfaucet holds the test networks' faucet key: the key that signs
// credit grants on networks named "test…" and "devnet", shipped with the
// demo and the testnet so that they can fund their clients. It is public,
// so it is worthless by design: nodes refuse it as a faucet on every other
// network.
package testfaucet

import _ "embed"

//go:embed faucet.key
var key string

// Key returns the faucet's identity in `meshnode identity export` format.
func Key() []byte { return []byte(key) }

// ID is the faucet's peer ID.
const ID = "12D3KooWJ9LLtZZ7QnZrEwNwDCYvNVvFRRwjMS5ciMiBWfyxAfha"
