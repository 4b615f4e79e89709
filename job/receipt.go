package job

import (
	"bytes"
	"crypto/sha256"
	"fmt"
)

// Credits move only by signed records (issue #6):
//
//   - a Receipt, signed by the payer (the client) and, as an
//     acknowledgement, counter-signed by the payee (the provider) after a
//     result: it moves Amount from payer to payee. Each payer numbers its
//     receipts 1, 2, 3, ... (a chain: see the ledger package for when one
//     counts): two receipts of one payer with one sequence number and
//     different content are a FraudProof of a double spend;
//   - a Grant, signed by the network's faucet key: it creates credits (test
//     networks);
//   - an Authorization, signed by a payer before a job starts: it promises to
//     pay a payee at most Max for one attempt of one job, and takes the
//     payer's next sequence number for it (Seq): the receipt of that
//     attempt carries the same number;
//   - a claim: a Receipt that the payee alone signs, carrying the payer's
//     Authorization in place of the payer's signature. A provider whose
//     client never sends the receipt (it went away, reset the stream,
//     cancelled the run) claims min(metered charge, Max) in the slot of
//     the payer's chain that the authorisation took. In one slot a
//     counter-signed receipt prevails over a claim, and a claim over a
//     receipt the payer alone signed: a client cannot dodge a claim by
//     publishing a smaller receipt of its own.
//
// Every signature covers SigningBytes: a domain string naming the record's
// kind and version, then the record's canonical JSON (encoding/json of the
// struct, fields in declaration order) with the signature fields empty. The
// signature is over the decoded content, never the wire bytes, so a record
// re-encoded differently keeps its signature, and one signature can never be
// replayed as another kind of record.

// Size limits of the credit records on the wire and on disk.
const (
	MaxReceiptSize       = 4 << 10
	MaxGrantSize         = 2 << 10
	MaxAuthorizationSize = 4 << 10
	MaxFraudProofSize    = 2*MaxReceiptSize + 256
)

// Field limits of the credit records.
const (
	// MaxAmount bounds one receipt's, grant's or authorisation's amount
	// (one million credits), so that sums of them stay far from overflow.
	MaxAmount   Credits = 1_000_000 * Nano
	MaxPeerLen          = 128 // a peer ID string
	MaxNetLen           = 64  // a network name
	MaxSigLen           = 512 // a signature (Ed25519: 64 bytes; RSA-4096: 512)
	MaxNonceLen         = 64  // a grant's nonce
	MaxAttempt          = 1 << 16
)

// Domain strings that prefix the signed bytes of each kind of record.
const (
	ReceiptDomain       = "computemesh/receipt/v1\n"
	GrantDomain         = "computemesh/grant/v1\n"
	AuthorizationDomain = "computemesh/authorization/v1\n"
)

// Receipt says that Payer paid Payee Amount for one attempt of a job.
type Receipt struct {
	V       int     `json:"v"`
	Network string  `json:"network"`
	Job     string  `json:"job"` // job ID (CID)
	Attempt int     `json:"attempt"`
	Payer   string  `json:"payer"` // peer ID of the client
	Payee   string  `json:"payee"` // peer ID of the provider
	Amount  Credits `json:"amount"`
	// Seq is the payer's sequence number, from 1: one receipt per number.
	Seq    uint64 `json:"seq"`
	TimeMS int64  `json:"time_ms"` // unix ms, the payer's clock
	// Auth makes the receipt a claim: the payer's authorisation of this
	// attempt, which the payee's signature alone then turns into a
	// payment (PayerSig empty).
	Auth *Authorization `json:"auth,omitempty"`
	// PayerSig and PayeeSig are both over SigningBytes.
	PayerSig []byte `json:"payer_sig,omitempty"`
	PayeeSig []byte `json:"payee_sig,omitempty"`
}

// IsClaim reports whether r is a claim: signed by its payee on the
// strength of the payer's Authorization.
func (r *Receipt) IsClaim() bool { return r.Auth != nil }

// SigningBytes returns what the payer and the payee sign.
func (r *Receipt) SigningBytes() []byte {
	c := *r
	c.PayerSig, c.PayeeSig = nil, nil
	return append([]byte(ReceiptDomain), Encode(&c)...)
}

// ID returns the SHA-256 of SigningBytes: the receipt's identity, the same
// whatever its signatures (ECDSA signatures of one content differ).
func (r *Receipt) ID() [32]byte { return sha256.Sum256(r.SigningBytes()) }

// ValidateUnsigned checks every field of r except that the signatures are
// present: a receipt the payer has not signed yet, or the payee not yet.
func (r *Receipt) ValidateUnsigned() error {
	if r.V != Version {
		return fmt.Errorf("v: version %d, want %d", r.V, Version)
	}
	if err := ValidateNetwork(r.Network); err != nil {
		return fmt.Errorf("network: %w", err)
	}
	if err := validateCanonicalCID(r.Job); err != nil {
		return fmt.Errorf("job: %w", err)
	}
	if r.Attempt < 1 || r.Attempt > MaxAttempt {
		return fmt.Errorf("attempt: %d is out of range (1 to %d)", r.Attempt, MaxAttempt)
	}
	if err := ValidatePeer(r.Payer); err != nil {
		return fmt.Errorf("payer: %w", err)
	}
	if err := ValidatePeer(r.Payee); err != nil {
		return fmt.Errorf("payee: %w", err)
	}
	if r.Payer == r.Payee {
		return fmt.Errorf("payee: %s is the payer: a peer cannot pay itself", r.Payee)
	}
	if err := validateAmount(r.Amount); err != nil {
		return fmt.Errorf("amount: %w", err)
	}
	if r.Seq == 0 || r.Seq > 1<<62 {
		return fmt.Errorf("seq: %d is out of range (1 to 2^62)", r.Seq)
	}
	if r.TimeMS <= 0 {
		return fmt.Errorf("time_ms: %d is not a positive unix time", r.TimeMS)
	}
	if len(r.PayerSig) > MaxSigLen || len(r.PayeeSig) > MaxSigLen {
		return fmt.Errorf("payer_sig, payee_sig: %d, %d bytes, limit %d", len(r.PayerSig), len(r.PayeeSig), MaxSigLen)
	}
	if a := r.Auth; a != nil {
		if err := a.Validate(); err != nil {
			return fmt.Errorf("auth.%w", err)
		}
		switch {
		case a.Network != r.Network || a.Job != r.Job || a.Attempt != r.Attempt || a.Payer != r.Payer || a.Payee != r.Payee:
			return fmt.Errorf("auth: for another network, job, attempt, payer or payee than the claim")
		case a.Seq != r.Seq:
			return fmt.Errorf("auth.seq: %d, the claim's seq is %d: a claim takes the slot its authorisation took", a.Seq, r.Seq)
		case r.Amount > a.Max:
			return fmt.Errorf("amount: %d nano-credits, more than the %d the payer authorised", int64(r.Amount), int64(a.Max))
		case len(r.PayerSig) != 0:
			return fmt.Errorf("payer_sig: a claim is signed by its payee alone")
		}
	}
	return nil
}

// Validate checks every field of r and that the payer's signature is
// present (not that it verifies: that needs the payer's key). The payee's
// is optional: it acknowledges the payment, which the payer's signature
// alone makes (a client whose provider never counter-signs publishes the
// receipt it signed, so that its chain has no gap).
//
// A claim (IsClaim) is signed by its payee alone: PayeeSig present.
func (r *Receipt) Validate() error {
	if err := r.ValidateUnsigned(); err != nil {
		return err
	}
	if r.IsClaim() {
		if len(r.PayeeSig) == 0 {
			return fmt.Errorf("payee_sig: missing (a claim is signed by its payee)")
		}
		return nil
	}
	if len(r.PayerSig) == 0 {
		return fmt.Errorf("payer_sig: missing")
	}
	return nil
}

// Conflict reports whether a and b, records of one payer's chain with one
// sequence number, are a double spend: the payer consented to two
// different things in one slot (two receipts that differ, two
// authorisations that differ, or a receipt and an authorisation of
// another job, attempt or payee). A claim and a receipt of the same
// attempt do not conflict (the slot's rules choose one), nor do two claims
// on one authorisation (the payee's doing, not the payer's).
func Conflict(a, b *Receipt) bool {
	if a.Network != b.Network || a.Payer != b.Payer || a.Seq != b.Seq {
		return false
	}
	switch {
	case !a.IsClaim() && !b.IsClaim():
		return !bytes.Equal(a.SigningBytes(), b.SigningBytes())
	case a.IsClaim() && b.IsClaim():
		return !bytes.Equal(a.Auth.SigningBytes(), b.Auth.SigningBytes())
	}
	return a.Job != b.Job || a.Attempt != b.Attempt || a.Payee != b.Payee
}

// Grant creates Amount credits for To; only the faucet key named in the
// network's configuration can sign one. Two grants differ by their Nonce;
// a grant seen twice counts once.
type Grant struct {
	V       int     `json:"v"`
	Network string  `json:"network"`
	To      string  `json:"to"`
	Amount  Credits `json:"amount"`
	Nonce   string  `json:"nonce"`
	TimeMS  int64   `json:"time_ms"`
	Faucet  string  `json:"faucet"` // peer ID of the faucet key
	Sig     []byte  `json:"sig,omitempty"`
}

// SigningBytes returns what the faucet signs.
func (g *Grant) SigningBytes() []byte {
	c := *g
	c.Sig = nil
	return append([]byte(GrantDomain), Encode(&c)...)
}

// ID returns the SHA-256 of SigningBytes.
func (g *Grant) ID() [32]byte { return sha256.Sum256(g.SigningBytes()) }

// Validate checks every field of g and that the signature is present.
func (g *Grant) Validate() error {
	if err := g.ValidateUnsigned(); err != nil {
		return err
	}
	if len(g.Sig) == 0 || len(g.Sig) > MaxSigLen {
		return fmt.Errorf("sig: %d bytes, must be 1 to %d", len(g.Sig), MaxSigLen)
	}
	return nil
}

// ValidateUnsigned checks every field of g but the signature (a grant
// about to be signed).
func (g *Grant) ValidateUnsigned() error {
	if g.V != Version {
		return fmt.Errorf("v: version %d, want %d", g.V, Version)
	}
	if err := ValidateNetwork(g.Network); err != nil {
		return fmt.Errorf("network: %w", err)
	}
	if err := ValidatePeer(g.To); err != nil {
		return fmt.Errorf("to: %w", err)
	}
	if err := validateAmount(g.Amount); err != nil {
		return fmt.Errorf("amount: %w", err)
	}
	if g.Amount == 0 {
		return fmt.Errorf("amount: a grant of 0")
	}
	if g.Nonce == "" || len(g.Nonce) > MaxNonceLen || !isToken(g.Nonce, true) {
		return fmt.Errorf("nonce: must be 1 to %d letters, digits, '-', '_' or '.'", MaxNonceLen)
	}
	if g.TimeMS <= 0 {
		return fmt.Errorf("time_ms: %d is not a positive unix time", g.TimeMS)
	}
	if err := ValidatePeer(g.Faucet); err != nil {
		return fmt.Errorf("faucet: %w", err)
	}
	return nil
}

// Authorization is a payer's promise, before a job starts, to pay Payee at
// most Max for one attempt of the job; it expires at ExpiresMS.
type Authorization struct {
	V         int     `json:"v"`
	Network   string  `json:"network"`
	Job       string  `json:"job"`
	Attempt   int     `json:"attempt"`
	Payer     string  `json:"payer"`
	Payee     string  `json:"payee"`
	Max       Credits `json:"max"`
	ExpiresMS int64   `json:"expires_ms"` // unix ms
	// Seq is the slot of the payer's chain this attempt takes: its receipt,
	// or its payee's claim, carries the same number. 0: none (a network
	// without credits).
	Seq uint64 `json:"seq,omitempty"`
	Sig []byte `json:"sig,omitempty"`
}

// SigningBytes returns what the payer signs.
func (a *Authorization) SigningBytes() []byte {
	c := *a
	c.Sig = nil
	return append([]byte(AuthorizationDomain), Encode(&c)...)
}

// Validate checks every field of a and that the signature is present.
func (a *Authorization) Validate() error {
	if a.V != Version {
		return fmt.Errorf("v: version %d, want %d", a.V, Version)
	}
	if err := ValidateNetwork(a.Network); err != nil {
		return fmt.Errorf("network: %w", err)
	}
	if err := validateCanonicalCID(a.Job); err != nil {
		return fmt.Errorf("job: %w", err)
	}
	if a.Attempt < 1 || a.Attempt > MaxAttempt {
		return fmt.Errorf("attempt: %d is out of range (1 to %d)", a.Attempt, MaxAttempt)
	}
	if err := ValidatePeer(a.Payer); err != nil {
		return fmt.Errorf("payer: %w", err)
	}
	if err := ValidatePeer(a.Payee); err != nil {
		return fmt.Errorf("payee: %w", err)
	}
	if a.Payer == a.Payee {
		return fmt.Errorf("payee: %s is the payer: a peer cannot pay itself", a.Payee)
	}
	if err := validateAmount(a.Max); err != nil {
		return fmt.Errorf("max: %w", err)
	}
	if a.ExpiresMS <= 0 {
		return fmt.Errorf("expires_ms: %d is not a positive unix time", a.ExpiresMS)
	}
	if a.Seq > 1<<62 {
		return fmt.Errorf("seq: %d is out of range (0 to 2^62)", a.Seq)
	}
	if len(a.Sig) == 0 || len(a.Sig) > MaxSigLen {
		return fmt.Errorf("sig: %d bytes, must be 1 to %d", len(a.Sig), MaxSigLen)
	}
	return nil
}

// FraudProof is two records one payer consented to with one sequence
// number (receipts it signed, or the authorisations in claims) that
// Conflict: a double spend. The payer's chain ends at that number.
type FraudProof struct {
	V int     `json:"v"`
	A Receipt `json:"a"`
	B Receipt `json:"b"`
}

// Validate checks both records and that they conflict: same network, payer
// and sequence number, Conflict. The signatures still need verifying.
func (f *FraudProof) Validate() error {
	if f.V != Version {
		return fmt.Errorf("v: version %d, want %d", f.V, Version)
	}
	if err := f.A.Validate(); err != nil {
		return fmt.Errorf("a.%w", err)
	}
	if err := f.B.Validate(); err != nil {
		return fmt.Errorf("b.%w", err)
	}
	if f.A.Network != f.B.Network {
		return fmt.Errorf("b.network: %q, a's is %q", f.B.Network, f.A.Network)
	}
	if f.A.Payer != f.B.Payer {
		return fmt.Errorf("b.payer: %s, a's is %s: not one payer", f.B.Payer, f.A.Payer)
	}
	if f.A.Seq != f.B.Seq {
		return fmt.Errorf("b.seq: %d, a's is %d: not one sequence number", f.B.Seq, f.A.Seq)
	}
	if !Conflict(&f.A, &f.B) {
		return fmt.Errorf("b: no conflict with a (the same receipt, or one attempt's receipt and claim)")
	}
	return nil
}

// ValidatePeer checks a peer ID string: 1 to MaxPeerLen letters and digits
// (the base58 and base32 forms of libp2p peer IDs).
func ValidatePeer(p string) error {
	if p == "" || len(p) > MaxPeerLen {
		return fmt.Errorf("peer ID of %d bytes, must be 1 to %d", len(p), MaxPeerLen)
	}
	if !isToken(p, false) {
		return fmt.Errorf("peer ID %q: only letters and digits are allowed", p)
	}
	return nil
}

// ValidateNetwork checks a network name: 1 to MaxNetLen letters, digits,
// '-', '_' or '.'.
func ValidateNetwork(n string) error {
	if n == "" || len(n) > MaxNetLen {
		return fmt.Errorf("network name of %d bytes, must be 1 to %d", len(n), MaxNetLen)
	}
	if !isToken(n, true) {
		return fmt.Errorf("network name %q: only letters, digits, '-', '_' and '.' are allowed", n)
	}
	return nil
}

func isToken(s string, punct bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case punct && (c == '-' || c == '_' || c == '.'):
		default:
			return false
		}
	}
	return true
}

func validateAmount(c Credits) error {
	if c < 0 || c > MaxAmount {
		return fmt.Errorf("%d nano-credits is out of range (0 to %d)", int64(c), int64(MaxAmount))
	}
	return nil
}

// validateCanonicalCID checks that s is a CID in its canonical string form,
// so that one job has one spelling in signed records.
func validateCanonicalCID(s string) error {
	c, err := ParseCID(s)
	if err != nil {
		return err
	}
	if c.String() != s {
		return fmt.Errorf("CID %q is not in its canonical form %q", s, c.String())
	}
	return nil
}
