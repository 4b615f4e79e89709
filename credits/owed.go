package credits

import (
	"sync"
	"time"

	"github.com/computemesh/computemesh/job"
)

// owedBook is what a provider's accepted awards may still cost each client:
// the authorised maximum of every run it accepted whose receipt has not
// come, until the authorisation expires. A client's balance, as a provider
// judges it for a bid or an award, is what its ledger says less these and
// less its standing bids here: a client that runs jobs here and resets the
// award stream before it signs their receipts (attack: runs never paid)
// cannot start more than its balance covers.
type owedBook struct {
	mu    sync.Mutex
	runs  map[owedKey]owed
	total map[string]job.Credits // by client
	swept int64                  // unix ms of the last sweep of expired runs
	now   func() time.Time       // the Book's clock
}

type owedKey struct {
	job     string
	attempt int
}

type owed struct {
	client  string
	max     job.Credits
	expires int64 // unix ms: the authorisation's expiry
}

// clock is the Book's clock (the wall clock for a bare owedBook).
func (b *owedBook) clock() time.Time {
	if b.now == nil {
		return time.Now()
	}
	return b.now()
}

// maxOwed bounds the runs remembered (each an accepted award): past it the
// oldest expiries go first.
const maxOwed = 65536

// reserve records an accepted award's authorisation, after check says the
// client's balance covers it beside what it already owes here (check gets
// that sum); it returns check's refusal, if any.
func (b *owedBook) reserve(a *job.Award, check func(owes job.Credits) string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.runs == nil {
		b.runs, b.total = map[owedKey]owed{}, map[string]job.Credits{}
	}
	b.expireLocked(b.clock().UnixMilli())
	if why := check(b.total[a.Client]); why != "" {
		return why
	}
	if len(b.runs) >= maxOwed {
		b.dropOldestLocked()
	}
	k := owedKey{a.Job, a.Attempt}
	if o, ok := b.runs[k]; ok { // the same attempt awarded again: replace
		b.subLocked(k, o)
	}
	o := owed{client: a.Client, max: a.Auth.Max, expires: a.Auth.ExpiresMS}
	b.runs[k] = o
	b.total[o.client] += o.max
	return ""
}

// settle forgets a run: its receipt came, or it ended charging nothing.
func (b *owedBook) settle(jobID string, attempt int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	k := owedKey{jobID, attempt}
	if o, ok := b.runs[k]; ok {
		b.subLocked(k, o)
	}
}

// owes returns what client's accepted runs here may still cost it.
func (b *owedBook) owes(client string) job.Credits {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.expireLocked(b.clock().UnixMilli())
	return b.total[client]
}

func (b *owedBook) subLocked(k owedKey, o owed) {
	delete(b.runs, k)
	if b.total[o.client] -= o.max; b.total[o.client] <= 0 {
		delete(b.total, o.client)
	}
}

// expireLocked forgets the runs whose authorisation has expired, at most
// once a second.
func (b *owedBook) expireLocked(now int64) {
	if now-b.swept < 1000 {
		return
	}
	b.swept = now
	for k, o := range b.runs {
		if o.expires < now {
			b.subLocked(k, o)
		}
	}
}

func (b *owedBook) dropOldestLocked() {
	var oldest owedKey
	first := true
	for k, o := range b.runs {
		if first || o.expires < b.runs[oldest].expires {
			oldest, first = k, false
		}
	}
	if !first {
		b.subLocked(oldest, b.runs[oldest])
	}
}

// Reserve records a provider's accepted award until its receipt comes
// (Settle) or its authorisation expires, after check says the client's
// balance covers it beside what it already owes here (check gets that
// sum); it returns check's refusal, if any.
func (b *Book) Reserve(a *job.Award, check func(owes job.Credits) string) string {
	return b.owed.reserve(a, check)
}

// Settle forgets an accepted run: its receipt came, or it ended charging
// nothing.
func (b *Book) Settle(jobID string, attempt int) { b.owed.settle(jobID, attempt) }

// Owes returns what client's accepted runs here may still cost it.
func (b *Book) Owes(client string) job.Credits { return b.owed.owes(client) }
