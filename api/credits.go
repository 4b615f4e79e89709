package api

import (
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/ledger"
)

// Credits is a node's account in its own ledger's view (GET /v1/credits).
// The ledger's own types are pure and shared: they are used as they are.
// POST /v1/ledger/verify answers with a ledger.Report.
type Credits struct {
	Peer     string         `json:"peer"`
	Balance  ledger.Balance `json:"balance"`
	Receipts []job.Receipt  `json:"receipts"` // the most recent, as payer or payee
	Ledger   ledger.Stats   `json:"ledger"`
}
