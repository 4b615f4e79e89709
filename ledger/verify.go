package ledger

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Problem is one record Verify found wrong.
type Problem struct {
	Offset int64  `json:"offset"`
	Err    string `json:"error"`
}

// Report is what Verify found.
type Report struct {
	Records          int       `json:"records"` // header included
	Receipts         int       `json:"receipts"`
	Grants           int       `json:"grants"`
	FraudProofs      int       `json:"fraud_proofs"`
	Duplicates       int       `json:"duplicates"`
	FraudulentPayers []string  `json:"fraudulent_payers"`
	Problems         []Problem `json:"problems"`
	Bytes            int64     `json:"bytes"`
}

// Verify re-reads the log and re-checks every record as if it came from the
// network, signatures and conflicts included, into a fresh book that must
// agree with the live one. Bad records are listed in the report's Problems;
// the error is for a log that cannot be read at all.
func (l *Ledger) Verify() (Report, error) {
	l.mu.Lock()
	size := l.size
	l.mu.Unlock()
	var rep Report
	f, err := os.Open(l.path)
	if err != nil {
		return rep, fmt.Errorf("ledger: %w", err)
	}
	defer f.Close()
	cold, err := openFileCold(filepath.Dir(l.path)) // its own: the live store never grows by a check
	if err != nil {
		return rep, err
	}
	defer cold.close()
	fresh := newBook(l.cfg, l.store, cold) // its entries refer to the same log
	s := newScanner(l.path, f, size)
	for {
		typ, payload, err := s.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			rep.Problems = append(rep.Problems, Problem{Offset: s.off, Err: err.Error()})
			break
		}
		rep.Records++
		switch dup, err := applyRecord(fresh, s.off, typ, payload, true); {
		case dup:
			rep.Duplicates++
		case err != nil:
			rep.Problems = append(rep.Problems, Problem{Offset: s.off, Err: err.Error()})
		case typ == recReceipt:
			rep.Receipts++
		case typ == recGrant:
			rep.Grants++
		case typ == recFraud:
			rep.FraudProofs++
		}
		s.off += recHeaderLen + int64(len(payload)) + 1
	}
	rep.Bytes = s.off
	rep.FraudulentPayers = fresh.FraudulentPayers()
	for _, p := range uniqPeers(fresh.Peers(), l.book.Peers()) {
		if got, want := fresh.Balance(p), l.book.Balance(p); got != want {
			rep.Problems = append(rep.Problems, Problem{Offset: -1,
				Err: fmt.Sprintf("peer %s: the log gives %+v, the live book %+v", p, got, want)})
		}
	}
	return rep, nil
}

func uniqPeers(a, b []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range append(a, b...) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}
