package ledger

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/computemesh/computemesh/job"
)

var (
	// ErrDuplicate: the record is already in the book (an exact replay);
	// nothing changed. Gossip may deliver a record many times: not an attack.
	ErrDuplicate = errors.New("ledger: already recorded")
	// ErrRejected wraps every refusal of a record for what it is (invalid,
	// forged, another network, not the faucet), as opposed to a failure of
	// the node (a full disk).
	ErrRejected = errors.New("ledger: rejected")
)

// MaxTotal bounds a peer's granted, earned and spent totals and the
// network's total granted (2^61 nano-credits, about 2.3 billion credits), so
// that no sum or balance overflows an int64. A record that would pass it is
// refused.
const MaxTotal job.Credits = 1 << 61

func reject(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrRejected, fmt.Sprintf(format, args...))
}

// Balance is what a Book derives for one peer. Earned and Spent are of the
// receipts that count (see count.go); Pending ones are apart.
type Balance struct {
	Granted job.Credits `json:"granted_nano"`
	Earned  job.Credits `json:"earned_nano"`
	Spent   job.Credits `json:"spent_nano"`
	// Balance is Granted + Earned − Spent: never negative on a network
	// with a faucet (a tally, which may be, without one).
	Balance  job.Credits `json:"balance_nano"`
	Receipts int         `json:"receipts"` // as payer or payee
	// PendingIn and PendingOut are the amounts of the peer's receipts, as
	// payee and as payer, that do not count (yet): a gap in their payer's
	// chain before them, a payer that cannot cover them, or a fork.
	PendingIn  job.Credits `json:"pending_in_nano,omitempty"`
	PendingOut job.Credits `json:"pending_out_nano,omitempty"`
	Pending    int         `json:"pending,omitempty"` // receipts that do not count
}

// Stats counts what a Book holds.
type Stats struct {
	Receipts         int         `json:"receipts"`
	Grants           int         `json:"grants"`
	Peers            int         `json:"peers"`
	FraudulentPayers int         `json:"fraudulent_payers"`
	Granted          job.Credits `json:"granted_nano"` // credits created, the sum of all balances
	Counted          int         `json:"counted"`      // receipts that count (the rest are pending)
}

type account struct {
	granted       job.Credits
	earned, spent job.Credits  // of the receipts that count
	next          uint64       // as payer: receipts 1 … next−1 count
	receipts      []*entry     // as payer or payee, in arrival order
	chain         []*entry     // as payer: slot s's first record at s−1 (chain.go)
	grants        []*job.Grant // to this peer
	// Folding (cold.go): as payer, its folded runs of slots, whose records
	// are in the book's cold store (nCold of them), slots below foldedTo
	// considered; as payee, coldIn of others' cold slots pay it.
	cold          []coldRun
	nCold, coldIn int
	foldedTo      uint64
	dueFold       bool
	stalled       bool // its count stopped at a cold record that could not be read (slotPay)
}

type seqKey struct {
	payer string
	seq   uint64
}

// Book is the state derived from the receipts and grants a node has seen
// and verified: balances, sequence numbers, double spenders. It depends only
// on the set of records added, never on their order. It keeps an entry of
// each receipt in memory and its body in a receiptStore (entry.go). It is
// safe for concurrent use.
type Book struct {
	cfg   *config
	store receiptStore // the receipts' bodies
	cold  coldStore    // the records of folded slots (cold.go)

	mu        sync.RWMutex
	nReceipts int
	multi     map[seqKey][]*entry // the records of slots holding several, or far ahead (chain.go)
	maxSeq    map[string]uint64
	grants    map[[32]byte]struct{}
	accounts  map[string]*account
	fraud     map[string]*job.FraudProof    // payer → the first conflict seen
	forked    map[seqKey]bool               // slots holding a conflict
	auths     map[seqKey]*job.Authorization // this node's own, their slot still empty
	granted   job.Credits
	counting  int               // receipts that count
	strs      map[string]string // interned peer IDs and network names
	nCold     int               // cold slots (cold.go)
	payees    []string          // the payees of cold records, by index (coldstore.go)
	payeeIdx  map[string]uint32 // and their indexes
	due       []string          // payers whose chains may fold (markFold)
}

// NewBook returns an empty book; WithNetwork (or WithFaucet) and
// WithVerifier are required.
func NewBook(opts ...Option) (*Book, error) {
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	return newBook(c, &memStore{}, &memCold{}), nil
}

func newBook(c *config, store receiptStore, cold coldStore) *Book {
	return &Book{
		cfg: c, store: store, cold: cold, payeeIdx: map[string]uint32{}, multi: map[seqKey][]*entry{},
		maxSeq: map[string]uint64{}, grants: map[[32]byte]struct{}{}, accounts: map[string]*account{},
		fraud: map[string]*job.FraudProof{}, forked: map[seqKey]bool{}, auths: map[seqKey]*job.Authorization{},
		strs: map[string]string{},
	}
}

// AddReceipt verifies r and adds it. An exact replay returns ErrDuplicate. A
// receipt whose payer already signed another with the same sequence number
// is added all the same (both count) and its FraudProof is returned with a
// nil error: the caller gossips it and stops serving the payer.
func (b *Book) AddReceipt(r *job.Receipt) (*job.FraudProof, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	id, err := thawing(b, func() ([32]byte, error) { return b.checkReceipt(r, true, false, nil) })
	if err != nil {
		return nil, err
	}
	defer b.foldDue()
	return b.applyReceipt(cloneReceipt(r), id, noLoc), nil
}

// AddGrant verifies g and adds it: only the configured faucet of this
// network may sign a grant. A grant seen before returns ErrDuplicate.
func (b *Book) AddGrant(g *job.Grant) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	id, err := b.checkGrant(g, true, false)
	if err != nil {
		return err
	}
	b.applyGrant(g, id)
	b.foldDue()
	return nil
}

// AddFraud verifies both receipts of a fraud proof and that they conflict,
// adds whichever the book lacked (both count) and marks the payer. A proof
// of two receipts already in the book returns ErrDuplicate.
func (b *Book) AddFraud(p *job.FraudProof) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	add, err := thawing(b, func() (fraudAdd, error) { return b.checkFraud(p, true) })
	if err != nil {
		return err
	}
	b.applyFraud(add, noLoc)
	b.foldDue()
	return nil
}

// VerifyAuthorization checks a spending authorisation: valid, of this
// network, signed by its payer.
func (b *Book) VerifyAuthorization(a *job.Authorization) error {
	if err := a.Validate(); err != nil {
		return reject("authorization: %v", err)
	}
	if a.Network != b.cfg.network {
		return reject("authorization: network: %q is not this network %q", a.Network, b.cfg.network)
	}
	if err := b.cfg.verify(a.Payer, a.SigningBytes(), a.Sig); err != nil {
		return reject("authorization for job %s: sig: not payer %s's signature: %v", a.Job, a.Payer, err)
	}
	return nil
}

// Balance returns what the book says of peer (zero for a peer it never saw).
func (b *Book) Balance(peer string) Balance {
	b.mu.RLock()
	defer b.mu.RUnlock()
	a := b.accounts[peer]
	if a == nil {
		return Balance{}
	}
	bal := Balance{Granted: a.granted, Earned: a.earned, Spent: a.spent,
		Balance: a.spendable(), Receipts: len(a.receipts) + a.nCold + a.coldIn}
	for _, r := range a.receipts {
		if b.counted(r) || b.superseded(r) {
			continue
		}
		bal.Pending++
		if r.payer == peer {
			bal.PendingOut += r.amount
		} else {
			bal.PendingIn += r.amount
		}
	}
	return bal
}

// Counts returns how many grants to peer and how many receipts with peer
// as payer or payee the book holds, in constant time (Balance walks the
// receipts).
func (b *Book) Counts(peer string) (grants, receipts int) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if a := b.accounts[peer]; a != nil {
		return len(a.grants), len(a.receipts) + a.nCold + a.coldIn
	}
	return 0, 0
}

// Fraudulent reports whether payer signed two receipts with one sequence
// number.
func (b *Book) Fraudulent(payer string) bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	_, ok := b.fraud[payer]
	return ok
}

// FraudProof returns a proof against payer, or nil if the book has none.
func (b *Book) FraudProof(payer string) *job.FraudProof {
	b.mu.RLock()
	defer b.mu.RUnlock()
	p := b.fraud[payer]
	if p == nil {
		return nil
	}
	return &job.FraudProof{V: p.V, A: *cloneReceipt(&p.A), B: *cloneReceipt(&p.B)}
}

// FraudulentPayers returns the payers with a fraud proof, sorted.
func (b *Book) FraudulentPayers() []string {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := make([]string, 0, len(b.fraud))
	for p := range b.fraud {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// NextSeq returns the sequence number payer's next receipt should carry:
// the highest seen (or reserved, see Ledger.ReserveSeq) plus one.
func (b *Book) NextSeq(payer string) uint64 {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.maxSeq[payer] + 1
}

// reserve records that seq is taken for payer (a node's own reservation,
// not a receipt: no balance moves).
func (b *Book) reserve(payer string, seq uint64) {
	if seq > b.maxSeq[payer] {
		b.maxSeq[b.intern(payer)] = seq
	}
}

// Peers returns every peer the book has an account for, sorted.
func (b *Book) Peers() []string {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := make([]string, 0, len(b.accounts))
	for p := range b.accounts {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// Stats counts what the book holds.
func (b *Book) Stats() Stats {
	b.mu.RLock()
	defer b.mu.RUnlock()
	counted := b.counting
	if b.tally() {
		counted = b.nReceipts
	}
	return Stats{Receipts: b.nReceipts, Grants: len(b.grants), Peers: len(b.accounts),
		FraudulentPayers: len(b.fraud), Granted: b.granted, Counted: counted}
}

// ---- check, then apply (b.mu held) ----

// checkReceipt returns r's ID if r may be added; verify=false skips the
// signatures (a replay of the node's own checksummed log).
// validated=true skips r.Validate (job.Decode has just run it).
// q, when not nil, collects the signatures for one batch check instead
// (sigbatch.go).
func (b *Book) checkReceipt(r *job.Receipt, verify, validated bool, queue *sigQueue) ([32]byte, error) {
	if !validated {
		if err := r.Validate(); err != nil {
			return [32]byte{}, reject("receipt: %v", err)
		}
	}
	if r.Network != b.cfg.network {
		return [32]byte{}, reject("receipt: network: %q is not this network %q", r.Network, b.cfg.network)
	}
	id := r.ID()
	if old := b.find(seqKey{r.Payer, r.Seq}, id); old != nil {
		if r.IsClaim() || old.cosigned || len(r.PayeeSig) == 0 {
			return id, fmt.Errorf("receipt %d of payer %s: %w", r.Seq, r.Payer, ErrDuplicate)
		}
		// The payee's counter-signature of a receipt held without it.
		if verify {
			if err := b.sig(queue, r.Payee, r.SigningBytes(), r.PayeeSig, func(err error) error {
				return reject("receipt %d of payer %s: payee_sig: not payee %s's signature: %v", r.Seq, r.Payer, r.Payee, err)
			}); err != nil {
				return id, err
			}
		}
		return id, nil
	}
	cold, err := b.checkCold(seqKey{r.Payer, r.Seq}, id)
	if err != nil {
		return id, err
	}
	if cold { // its signatures checked now, before anything is thawed for it
		queue = nil
	}
	if b.total(r.Payer, func(a *account) job.Credits { return a.spent })+r.Amount > MaxTotal ||
		b.total(r.Payee, func(a *account) job.Credits { return a.earned })+r.Amount > MaxTotal {
		return id, reject("receipt %d of payer %s: amount: the payer's spent or the payee's earned total would pass %d", r.Seq, r.Payer, int64(MaxTotal))
	}
	if verify && r.IsClaim() {
		if err := b.sig(queue, r.Payer, r.Auth.SigningBytes(), r.Auth.Sig, func(err error) error {
			return reject("claim %d on payer %s: auth.sig: not the payer's signature: %v", r.Seq, r.Payer, err)
		}); err != nil {
			return id, err
		}
		if err := b.sig(queue, r.Payee, r.SigningBytes(), r.PayeeSig, func(err error) error {
			return reject("claim %d on payer %s: payee_sig: not payee %s's signature: %v", r.Seq, r.Payer, r.Payee, err)
		}); err != nil {
			return id, err
		}
	} else if verify {
		sb := r.SigningBytes()
		if err := b.sig(queue, r.Payer, sb, r.PayerSig, func(err error) error {
			return reject("receipt %d of payer %s: payer_sig: not the payer's signature: %v", r.Seq, r.Payer, err)
		}); err != nil {
			return id, err
		}
		if len(r.PayeeSig) == 0 {
			// Not counter-signed: the payer's signature pays.
		} else if err := b.sig(queue, r.Payee, sb, r.PayeeSig, func(err error) error {
			return reject("receipt %d of payer %s: payee_sig: not payee %s's signature: %v", r.Seq, r.Payer, r.Payee, err)
		}); err != nil {
			return id, err
		}
	}
	if cold {
		return id, &needThaw{payer: r.Payer}
	}
	return id, nil
}

func (b *Book) checkGrant(g *job.Grant, verify, validated bool) ([32]byte, error) {
	if !validated {
		if err := g.Validate(); err != nil {
			return [32]byte{}, reject("grant: %v", err)
		}
	}
	if g.Network != b.cfg.network {
		return [32]byte{}, reject("grant %s: network: %q is not this network %q", g.Nonce, g.Network, b.cfg.network)
	}
	if b.cfg.faucet == "" {
		return [32]byte{}, reject("grant %s to %s: network %q has no faucet: no grants are accepted", g.Nonce, g.To, b.cfg.network)
	}
	if g.Faucet != b.cfg.faucet {
		self := ""
		if g.Faucet == g.To {
			self = " (a self-signed grant: a node cannot grant itself credits)"
		}
		return [32]byte{}, reject("grant %s to %s: faucet: %s is not network %q's faucet %s%s", g.Nonce, g.To, g.Faucet, b.cfg.network, b.cfg.faucet, self)
	}
	id := g.ID()
	if _, ok := b.grants[id]; ok {
		return id, fmt.Errorf("grant %s to %s: %w", g.Nonce, g.To, ErrDuplicate)
	}
	if b.granted+g.Amount > MaxTotal {
		return id, reject("grant %s to %s: amount: the network's total granted would pass %d", g.Nonce, g.To, int64(MaxTotal))
	}
	if verify {
		if err := b.cfg.verify(g.Faucet, g.SigningBytes(), g.Sig); err != nil {
			return id, reject("grant %s to %s: sig: not the faucet's signature: %v", g.Nonce, g.To, err)
		}
	}
	return id, nil
}

func (b *Book) applyGrant(g *job.Grant, id [32]byte) {
	b.grants[id] = struct{}{}
	a := b.account(b.intern(g.To))
	a.granted += g.Amount
	c := *g
	c.Sig = slices.Clone(g.Sig)
	a.grants = append(a.grants, &c)
	b.granted += g.Amount
	b.settle(g.To)
}

// fraudAdd is what a checked fraud proof adds: the receipts the book lacked
// (idx: 0 for the proof's A, 1 for its B).
type fraudAdd struct {
	rs  []*job.Receipt
	ids [][32]byte
	idx []int
}

func (b *Book) checkFraud(p *job.FraudProof, verify bool) (fraudAdd, error) {
	var add fraudAdd
	if err := p.Validate(); err != nil {
		return add, reject("fraud proof: %v", err)
	}
	for i, r := range []*job.Receipt{&p.A, &p.B} {
		id, err := b.checkReceipt(r, verify, true, nil) // p.Validate checked both
		if errors.Is(err, ErrDuplicate) {
			continue
		}
		if err != nil {
			return add, fmt.Errorf("fraud proof against %s, receipt %c: %w", p.A.Payer, "ab"[i], err)
		}
		add.rs, add.ids, add.idx = append(add.rs, cloneReceipt(r)), append(add.ids, id), append(add.idx, i)
	}
	if len(add.rs) == 0 {
		return add, fmt.Errorf("fraud proof against %s, seq %d: %w", p.A.Payer, p.A.Seq, ErrDuplicate)
	}
	return add, nil
}

// applyFraud adds what checkFraud found the book lacked; off is the
// offset of the proof's record in the log, or noLoc.
func (b *Book) applyFraud(add fraudAdd, off int64) {
	for i, r := range add.rs {
		loc := int64(noLoc)
		if off != noLoc {
			loc = logLoc(off, add.idx[i])
		}
		b.applyReceipt(r, add.ids[i], loc)
	}
}

func cloneReceipt(r *job.Receipt) *job.Receipt {
	c := *r
	c.PayerSig, c.PayeeSig = slices.Clone(r.PayerSig), slices.Clone(r.PayeeSig)
	if r.Auth != nil {
		a := *r.Auth
		a.Sig = slices.Clone(r.Auth.Sig)
		c.Auth = &a
	}
	return &c
}

// DecodeReceipt decodes a receipt from the wire or a peer: strictly, at most
// job.MaxReceiptSize bytes, validated. Its signatures are checked by Add.
func DecodeReceipt(b []byte) (*job.Receipt, error) {
	r := new(job.Receipt)
	if err := job.Decode(b, job.MaxReceiptSize, r); err != nil {
		return nil, reject("%v", err)
	}
	return r, nil
}

// DecodeGrant decodes a grant strictly (at most job.MaxGrantSize bytes).
func DecodeGrant(b []byte) (*job.Grant, error) {
	g := new(job.Grant)
	if err := job.Decode(b, job.MaxGrantSize, g); err != nil {
		return nil, reject("%v", err)
	}
	return g, nil
}

// DecodeFraudProof decodes a fraud proof strictly (at most
// job.MaxFraudProofSize bytes).
func DecodeFraudProof(b []byte) (*job.FraudProof, error) {
	p := new(job.FraudProof)
	if err := job.Decode(b, job.MaxFraudProofSize, p); err != nil {
		return nil, reject("%v", err)
	}
	return p, nil
}
