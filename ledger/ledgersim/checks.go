package ledgersim

import (
	"fmt"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/ledger"
)

// maxProblems bounds the failures a report describes.
const maxProblems = 10

// Checks is what the run verified of the books it drove.
type Checks struct {
	// Books is how many books were checked for conservation at the end
	// (every book of the new design, and today's sampled ones); each
	// judge's book is checked after each sync too.
	Books int `json:"books"`
	// ConservationViolations counts checks in which a book's counted
	// balances were negative or summed to more than the credits it
	// knows were granted (Stats.Granted).
	ConservationViolations int `json:"conservation_violations"`
	// TodayIncomplete counts today's sampled books that do not count
	// every receipt or whose balances do not sum to every grant: each
	// sees every record, so each must.
	TodayIncomplete int `json:"today_incomplete"`
	// Syncs counts the judgments that fetched the client's records.
	Syncs int `json:"syncs"`
	// IncrementalSyncs counts the syncs whose request carried a SinceMS
	// (a judge that synced the client before): the holders left out
	// what is older than SinceMS and within the chain counted in the
	// judge's book (After).
	IncrementalSyncs int `json:"incremental_syncs"`
	// LeftOut counts the receipts the holders left out of incremental
	// answers (those Book.Records would have sent), and LeftOutNotHeld
	// those of them the judge did not hold after the sync: RecordsSince
	// leaves out only what a judge that synced before holds already.
	LeftOut        int `json:"left_out"`
	LeftOutNotHeld int `json:"left_out_not_held"`
	// JudgeRicher counts syncs after which the judge saw the client
	// richer than the client is (its counted balance, or its Available,
	// above the client's own): what a sync leaves out may only ever make
	// a client look poorer.
	JudgeRicher int `json:"judge_richer"`
	// JudgeMismatches counts syncs after which the judge's Balance of the
	// client differed from the client's own (every receipt of the client
	// made before the sync, as the client's book holds them all: it pays
	// and never earns). It stays exact with incremental syncs: what a
	// holder leaves out (the client's chain up to After made before
	// SinceMS; its receipts as payee, of which it has none) is what the
	// judge already holds and counts.
	JudgeMismatches int `json:"judge_mismatches"`
	// ClientMismatches counts clients whose own Balance differs, at the
	// end, from what today's first sampled book (which holds everything)
	// says of them.
	ClientMismatches int `json:"client_mismatches"`
	// Refused counts jobs a judge refused for want of credits (none
	// expected: grants are large, charges small).
	Refused int `json:"refused"`
	// Problems describes the first failures.
	Problems []string `json:"problems,omitempty"`
}

// OK reports whether every check passed.
func (c *Checks) OK() bool {
	return c.ConservationViolations == 0 && c.TodayIncomplete == 0 && c.LeftOutNotHeld == 0 && c.JudgeRicher == 0 &&
		c.JudgeMismatches == 0 && c.ClientMismatches == 0 && c.Refused == 0
}

func (c *Checks) problem(format string, args ...any) {
	if len(c.Problems) < maxProblems {
		c.Problems = append(c.Problems, fmt.Sprintf(format, args...))
	}
}

// conserved checks b: every counted balance ≥ 0, their sum ≤ the credits
// b knows were granted. It returns the sum and that total.
func conserved(b *ledger.Book) (sum, granted job.Credits, err error) {
	for _, p := range b.Peers() {
		bal := b.Balance(p).Balance
		if bal < 0 {
			return 0, 0, fmt.Errorf("peer %s: balance %d < 0", p, int64(bal))
		}
		sum += bal
	}
	granted = b.Stats().Granted
	if sum > granted {
		return sum, granted, fmt.Errorf("balances sum to %d, more than the %d granted", int64(sum), int64(granted))
	}
	return sum, granted, nil
}

// checkJudge compares judge p's view of client c, just synced, with c's
// own, and checks p's book.
func (s *sim) checkJudge(p, c int) {
	got, want := s.book(p).Balance(s.names[c]), s.book(c).Balance(s.names[c])
	if ga, wa := s.book(p).Available(s.names[c]), s.book(c).Available(s.names[c]); got.Balance > want.Balance || ga > wa {
		s.checks.JudgeRicher++
		s.checks.problem("judge %s sees client %s richer than it is: balance %d, available %d; the client's own: %d, %d",
			s.names[p], s.names[c], int64(got.Balance), int64(ga), int64(want.Balance), int64(wa))
	}
	if got != want {
		s.checks.JudgeMismatches++
		s.checks.problem("judge %s sees client %s as %+v, the client itself as %+v", s.names[p], s.names[c], got, want)
	}
	if _, _, err := conserved(s.book(p)); err != nil {
		s.checks.ConservationViolations++
		s.checks.problem("judge %s's book: %v", s.names[p], err)
	}
}

// checkLeftOut checks that judge p holds each of client c's receipts that
// its sync left out.
func (s *sim) checkLeftOut(p, c int, left []*job.Receipt) {
	if len(left) == 0 {
		return
	}
	_, held := s.book(p).Records(s.names[c], ledger.MaxSyncRecords)
	has := make(map[[32]byte]bool, len(held))
	for i := range held {
		has[held[i].ID()] = true
	}
	for _, r := range left {
		if !has[r.ID()] {
			s.checks.LeftOutNotHeld++
			s.checks.problem("judge %s's sync of %s left out receipt %d of %s, which it does not hold", s.names[p], s.names[c], r.Seq, r.Payer)
		}
	}
}

// finalChecks checks every book at the end of the run.
func (s *sim) finalChecks() {
	for n, b := range s.books {
		if b == nil {
			continue
		}
		s.checks.Books++
		if _, _, err := conserved(b); err != nil {
			s.checks.ConservationViolations++
			s.checks.problem("book of %s: %v", s.names[n], err)
		}
	}
	for k, b := range s.todayBook {
		s.checks.Books++
		sum, granted, err := conserved(b)
		if err != nil {
			s.checks.ConservationViolations++
			s.checks.problem("today's book of %s: %v", s.names[s.sample[k]], err)
		}
		if st := b.Stats(); sum != granted || st.Counted != st.Receipts ||
			st.Grants != len(s.clients) || st.Receipts != s.jobs+len(s.clients)*s.cfg.History {
			s.checks.TodayIncomplete++
			s.checks.problem("today's book of %s: %+v, balances sum to %d: not every record of the run counts",
				s.names[s.sample[k]], st, int64(sum))
		}
	}
	for _, c := range s.clients {
		own, all := s.book(c).Balance(s.names[c]), s.todayBook[0].Balance(s.names[c])
		if own != all {
			s.checks.ClientMismatches++
			s.checks.problem("client %s: its own book says %+v, today's complete book %+v", s.names[c], own, all)
		}
	}
}
