package credits

import (
	"errors"
	"time"

	logging "github.com/ipfs/go-log/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// Logger is where a Book logs: a constant message and key-value pairs
// (docs/ARCHITECTURE.md, Logs); go-log's loggers are one.
type Logger interface {
	Debugw(msg string, keysAndValues ...any)
	Infow(msg string, keysAndValues ...any)
	Warnw(msg string, keysAndValues ...any)
	Errorw(msg string, keysAndValues ...any)
}

// Counters are the metrics a Book counts on; the caller registers them.
// A nil counter counts nowhere.
type Counters struct {
	// Rejected counts ledger records refused (signatures, network,
	// conflicts, over a peer's rate) and records the send queue dropped.
	Rejected prometheus.Counter
	// Claims counts the runs this provider claimed on the client's
	// authorisation (no receipt came).
	Claims prometheus.Counter
}

type config struct {
	dir      string
	faucet   string
	assume   bool
	fresh    bool
	counters Counters
	log      Logger
	now      func() time.Time
}

// Option configures a Book.
type Option func(*config) error

// Clock makes the Book read the time from now (nil: time.Now): when
// authorisations expire, the times its records carry, when an account is
// due to be synced again.
func Clock(now func() time.Time) Option {
	return func(c *config) error {
		if now != nil {
			c.now = now
		}
		return nil
	}
}

// Dir sets the directory of the ledger's files (required).
func Dir(path string) Option {
	return func(c *config) error {
		if path == "" {
			return errors.New("credits: ledger directory: empty")
		}
		c.dir = path
		return nil
	}
}

// Faucet makes the network one with credits: grants signed by the faucet
// with this peer ID fund accounts, and jobs are paid from them (default:
// none, a network without balances).
func Faucet(id string) Option {
	return func(c *config) error { c.faucet = id; return nil }
}

// AssumeComplete lets a node whose ledger holds none of its own receipts,
// and whose peers cannot tell it which numbers it signed before, pay all
// the same (the ledger is taken as complete).
func AssumeComplete(assume bool) Option {
	return func(c *config) error { c.assume = assume; return nil }
}

// FreshKey says the node's key was made just now: it has no history to
// learn before it pays.
func FreshKey(fresh bool) Option {
	return func(c *config) error { c.fresh = fresh; return nil }
}

// Metrics sets the counters a Book counts on.
func Metrics(m Counters) Option {
	return func(c *config) error { c.counters = m; return nil }
}

// Log sets where a Book logs (default: go-log's "computemesh/credits").
func Log(l Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("credits: logger: nil")
		}
		c.log = l
		return nil
	}
}

// apply builds a config from the defaults and opts.
func apply(opts []Option) (*config, error) {
	c := &config{now: time.Now}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	if c.dir == "" {
		return nil, errors.New("credits: no ledger directory (Dir)")
	}
	if c.log == nil {
		c.log = logging.Logger("computemesh/credits")
	}
	if c.counters.Rejected == nil {
		c.counters.Rejected = prometheus.NewCounter(prometheus.CounterOpts{Name: "ledger_rejected_total"})
	}
	if c.counters.Claims == nil {
		c.counters.Claims = prometheus.NewCounter(prometheus.CounterOpts{Name: "claims_total"})
	}
	return c, nil
}
