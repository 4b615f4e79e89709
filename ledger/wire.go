package ledger

import (
	"fmt"
	"time"

	"github.com/computemesh/computemesh/job"
)

// Where records live. A receipt (or claim, or void) is not sent to every
// node: its parties keep it, and each account's records are kept by the
// account's holders — the HolderCount DHT servers closest to AccountKey —
// which answer anyone judging the account (a provider asked to run a
// client's job). The holders are trusted with nothing: the judge verifies
// every record itself, and a record a holder leaves out only makes the
// account look poorer (an outgoing receipt left out: richer — which is why
// the payee, who wants its pay to count, sends each receipt to the holders
// of its payer, and why a judge asks all of them). Grants and fraud proofs,
// rare, still go to every node by gossip.
const (
	// HolderCount is how many holders keep each account.
	HolderCount = 3
	// MaxSyncRecords bounds the records of one SyncAnswer.
	MaxSyncRecords = 2048
	// MaxStoreRecords bounds the records of one StoreRequest.
	MaxStoreRecords = 64
	// SyncEvery is how often a judge fetches one account again at most.
	SyncEvery = 30 * time.Second
)

// AccountKey returns the DHT key whose closest peers hold account's records
// on network.
func AccountKey(network, account string) string {
	return "/computemesh/" + network + "/account/" + account
}

// Recipients returns where self, a party to r, sends it: the holders of
// its payer's account and of its payee's (holders answers those), and,
// from the payee, the payer itself (a claim it must learn of); never self,
// each once.
func Recipients(r *job.Receipt, self string, holders func(account string) []string) []string {
	var out []string
	seen := map[string]bool{self: true}
	add := func(ps ...string) {
		for _, p := range ps {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	if self == r.Payee {
		add(r.Payer)
	}
	add(holders(r.Payer)...)
	add(holders(r.Payee)...)
	return out
}

// SyncRequest asks a peer for the records an account's balance rests on
// (Book.RecordsSince): a judge that synced the account before sends how
// far its chain counts there (After) and when it last synced, less a
// margin for late records (SinceMS), and gets only what is newer.
type SyncRequest struct {
	V       int    `json:"v"`
	Account string `json:"account"`
	After   uint64 `json:"after,omitempty"`
	SinceMS int64  `json:"since_ms,omitempty"`
}

// Validate checks the request's fields.
func (r *SyncRequest) Validate() error {
	if r.V != job.Version {
		return fmt.Errorf("v: version %d, want %d", r.V, job.Version)
	}
	if err := job.ValidatePeer(r.Account); err != nil {
		return fmt.Errorf("account: %w", err)
	}
	if r.After > 1<<62 || r.SinceMS < 0 {
		return fmt.Errorf("after, since_ms: out of range")
	}
	return nil
}

// SyncMargin is how much older than a judge's last sync a record may be
// and still be sent again (SinceMS): a record made before the sync may
// reach the holders after it.
const SyncMargin = 10 * time.Minute

// SyncAnswer is what a peer holds of an account (Book.Records).
type SyncAnswer struct {
	Grants   []job.Grant   `json:"grants"`
	Receipts []job.Receipt `json:"receipts"`
}

// Validate checks the answer's size; each record is checked as it is added.
func (a *SyncAnswer) Validate() error {
	if n := len(a.Grants) + len(a.Receipts); n > MaxSyncRecords {
		return fmt.Errorf("grants, receipts: %d records, limit %d", n, MaxSyncRecords)
	}
	return nil
}

// MaxSyncAnswer bounds a SyncAnswer's size.
const MaxSyncAnswer = MaxSyncRecords * job.MaxReceiptSize

// StoreRequest carries records a party sends to an account's holders.
type StoreRequest struct {
	V        int           `json:"v"`
	Receipts []job.Receipt `json:"receipts"`
}

// Validate checks the request's fields; each record is checked as it is
// added.
func (r *StoreRequest) Validate() error {
	if r.V != job.Version {
		return fmt.Errorf("v: version %d, want %d", r.V, job.Version)
	}
	if n := len(r.Receipts); n == 0 || n > MaxStoreRecords {
		return fmt.Errorf("receipts: %d records, must be 1 to %d", n, MaxStoreRecords)
	}
	return nil
}

// MaxStoreRequest bounds a StoreRequest's size.
const MaxStoreRequest = MaxStoreRecords*job.MaxReceiptSize + 64

// StoreAnswer says what a holder did with a StoreRequest's records.
type StoreAnswer struct {
	Stored  int    `json:"stored"`
	Refused int    `json:"refused,omitempty"`
	Error   string `json:"error,omitempty"` // the first refusal's reason
}

// Validate checks the answer's counts.
func (a *StoreAnswer) Validate() error {
	if a.Stored < 0 || a.Refused < 0 || a.Stored+a.Refused > MaxStoreRecords || len(a.Error) > 1024 {
		return fmt.Errorf("stored, refused, error: out of range")
	}
	return nil
}
