package credits

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// recordingLog keeps what is logged, one line per call.
type recordingLog struct{ lines []string }

func (l *recordingLog) add(level, msg string, kv []any) {
	l.lines = append(l.lines, fmt.Sprintf("%s %q %v", level, msg, kv))
}
func (l *recordingLog) Debugw(msg string, kv ...any) { l.add("debug", msg, kv) }
func (l *recordingLog) Infow(msg string, kv ...any)  { l.add("info", msg, kv) }
func (l *recordingLog) Warnw(msg string, kv ...any)  { l.add("warn", msg, kv) }
func (l *recordingLog) Errorw(msg string, kv ...any) { l.add("error", msg, kv) }

// The ledger's slog records reach the Book's log as their message and
// key-value pairs, at warn or error.
func TestLogHandlerKeepsPairs(t *testing.T) {
	rec := &recordingLog{}
	l := slog.New(logHandler{rec})
	l.Warn("ledger: slots stay in memory", "payer", "12D3Koo", "seq", 7)
	l.Error("ledger: reading receipts back", "peer", "12D3Koo", "err", errors.New("damaged"))
	want := []string{
		`warn "ledger: slots stay in memory" [payer 12D3Koo seq 7]`,
		`error "ledger: reading receipts back" [peer 12D3Koo err damaged]`,
	}
	if got := strings.Join(rec.lines, "\n"); got != strings.Join(want, "\n") {
		t.Fatalf("logged:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}
