package ledger

import (
	"fmt"
	"log/slog"

	"github.com/computemesh/computemesh/job"
)

// Verifier checks that sig is signer's signature of data; signer is a peer
// ID string. The node implements it with libp2p keys.
type Verifier func(signer string, data, sig []byte) error

// Signed is one signature for a BatchVerifier: Sig is Signer's signature
// of Data.
type Signed struct {
	Signer    string
	Data, Sig []byte
}

// BatchVerifier reports whether every signature of sigs passes the
// Verifier's check; false when at least one fails (the ledger then checks
// each with the Verifier to know which). It must accept what the Verifier
// accepts and nothing else (but with negligible probability), or a record
// would be valid at one node and invalid at another.
type BatchVerifier func(sigs []Signed) bool

// Option configures a Book or a Ledger.
type Option func(*config) error

type config struct {
	network      string
	faucet       string // "": this network has no faucet
	verify       Verifier
	verifyBatch  BatchVerifier
	log          *slog.Logger
	verifyOnOpen bool
	// foldKeep, foldBatch: how a book folds counted slots (cold.go).
	foldKeep, foldBatch uint64
}

// WithNetwork names the network whose records the book accepts.
func WithNetwork(network string) Option {
	return func(c *config) error {
		if err := job.ValidateNetwork(network); err != nil {
			return fmt.Errorf("ledger: %w", err)
		}
		if c.network != "" && c.network != network {
			return fmt.Errorf("ledger: network %q given, but %q was given before", network, c.network)
		}
		c.network = network
		return nil
	}
}

// WithFaucet names the network and the peer ID of its faucet key: the only
// signer whose grants create credits there. Without it the network has no
// grants.
func WithFaucet(network, faucet string) Option {
	return func(c *config) error {
		if err := WithNetwork(network)(c); err != nil {
			return err
		}
		if err := job.ValidatePeer(faucet); err != nil {
			return fmt.Errorf("ledger: faucet: %w", err)
		}
		c.faucet = faucet
		return nil
	}
}

// WithVerifier sets the signature check (required).
func WithVerifier(v Verifier) Option {
	return func(c *config) error {
		if v == nil {
			return fmt.Errorf("ledger: nil verifier")
		}
		c.verify = v
		return nil
	}
}

// WithBatchVerifier lets AddAll check a batch's signatures at once (the
// node's is several times faster per signature than one check each).
func WithBatchVerifier(v BatchVerifier) Option {
	return func(c *config) error {
		c.verifyBatch = v
		return nil
	}
}

// WithLogger sets where warnings go (a torn last record truncated at
// Open); the default is slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return fmt.Errorf("ledger: nil logger")
		}
		c.log = l
		return nil
	}
}

// WithVerifyOnOpen makes Open re-verify every stored signature while it
// replays the log, instead of trusting the log's own checksums (see Open).
func WithVerifyOnOpen(on bool) Option {
	return func(c *config) error {
		c.verifyOnOpen = on
		return nil
	}
}

func newConfig(opts []Option) (*config, error) {
	c := &config{foldKeep: defaultFoldKeep, foldBatch: defaultFoldBatch}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	if c.network == "" {
		return nil, fmt.Errorf("ledger: no network (WithNetwork or WithFaucet)")
	}
	if c.verify == nil {
		return nil, fmt.Errorf("ledger: no verifier (WithVerifier)")
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	return c, nil
}
