package ledgersim

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/ledger"
)

const (
	network = "ledgersim"
	// jobID is the job of every receipt (each is told apart by its
	// payer's sequence number, and its attempt).
	jobID = "bafkreigbq32h2ndothmrbtrps5nfxzddy6jtsilkqtqeynhusawjofijra"
	// logFraming is what the ledger log adds to each record's JSON:
	// length, CRC-32C, type and newline.
	logFraming = 9
	// epochMS is the simulated clock's zero, in unix ms.
	epochMS = 1_700_000_000_000
	// grantAmount is each client's grant; receipts are of at most
	// maxCharge, so that no client runs out.
	grantAmount = 100_000 * job.Nano
	maxCharge   = 1_000
	// historySpan is how long before the measured window a client's
	// history (Config.History) was made, evenly spread: long past
	// ledger.SyncMargin, as a real client's earlier receipts are.
	historySpan = 24 * time.Hour
)

// cost is what one node spent.
type cost struct {
	msgs, bytes  int64 // received
	stored, recs int64 // appended to its log: bytes, records
	// fsyncs counts its log's writes, each one fsync (counted, not run):
	// one per record added on its own (Ledger.AddReceipt, AddGrant, Pay:
	// a party's own receipt, a gossiped record), one per sync answer or
	// store request that held anything new (Ledger.AddAll).
	fsyncs int64
	cpu    time.Duration
}

// timed runs f and charges its wall time to c.
func (c *cost) timed(f func() error) error {
	t := time.Now()
	err := f()
	c.cpu += time.Since(t)
	return err
}

// sim is one run.
type sim struct {
	cfg   Config
	rng   *rand.Rand
	names []string // node i's peer ID
	keys  []ed25519.PrivateKey
	index map[string]int
	pubs  map[string]ed25519.PublicKey
	// trust makes the books skip signature checks: only while the
	// history before the measured window is laid down.
	trust bool

	faucet    string
	faucetKey ed25519.PrivateKey
	clients   []int       // node indexes
	providers []int       // node indexes: the DHT servers
	provKeys  [][4]uint64 // SHA-256 of each provider's peer ID
	holderOf  map[string][]string
	grants    map[int]*job.Grant // by client node
	seq       map[int]uint64     // each client's last sequence number

	// Today's design: full books of the sampled nodes.
	sample    []int
	sampleOf  map[int]int // node → position in sample
	todayBook []*ledger.Book
	today     []cost
	setup     []cost // grants gossiped, on the sample

	// The new design: a book per node (made when first used).
	books    []*ledger.Book
	cost     []cost
	hasGrant map[[2]int]bool    // node, client
	lastSync map[[2]int]float64 // judge, client → simulated time of its last sync (tried)
	// answered is, by judge and client, the simulated time of the
	// judge's last answered sync of the client (the node's
	// syncState.answered): its next SyncRequest's SinceMS.
	answered map[[2]int]float64
	wire     map[string]*sizeCount // wire sizes by message kind

	jobs   int
	checks Checks
}

// sizeCount sums the sizes of one kind of message, and for the kinds that
// carry records (sizedRecs) their records.
type sizeCount struct {
	n, bytes, recs int64
	hasRecs        bool
}

func (s *sim) sized(kind string, n int) *sizeCount {
	c := s.wire[kind]
	if c == nil {
		c = &sizeCount{}
		s.wire[kind] = c
	}
	c.n++
	c.bytes += int64(n)
	return c
}

// sizedRecs is sized for a message of recs records.
func (s *sim) sizedRecs(kind string, n, recs int) {
	c := s.sized(kind, n)
	c.hasRecs = true
	c.recs += int64(recs)
}

func newSim(cfg Config) *sim {
	s := &sim{
		cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 0x6c656467657273)),
		index: make(map[string]int, cfg.Nodes), pubs: make(map[string]ed25519.PublicKey, cfg.Nodes+1),
		holderOf: map[string][]string{}, grants: map[int]*job.Grant{}, seq: map[int]uint64{},
		sampleOf: map[int]int{}, books: make([]*ledger.Book, cfg.Nodes), cost: make([]cost, cfg.Nodes),
		hasGrant: map[[2]int]bool{}, lastSync: map[[2]int]float64{}, answered: map[[2]int]float64{},
		wire: map[string]*sizeCount{},
	}
	s.faucetKey = nodeKey(cfg.Seed, "faucet")
	s.faucet = peerID(s.faucetKey.Public().(ed25519.PublicKey))
	s.pubs[s.faucet] = s.faucetKey.Public().(ed25519.PublicKey)
	for i := range cfg.Nodes {
		k := nodeKey(cfg.Seed, fmt.Sprint("node ", i))
		name := peerID(k.Public().(ed25519.PublicKey))
		s.keys = append(s.keys, k)
		s.names = append(s.names, name)
		s.index[name] = i
		s.pubs[name] = k.Public().(ed25519.PublicKey)
	}
	order := s.rng.Perm(cfg.Nodes)
	s.clients = slices.Clone(order[:cfg.Clients])
	s.providers = slices.Clone(order[cfg.Clients:])
	for _, p := range s.providers {
		s.provKeys = append(s.provKeys, words(sha256.Sum256([]byte(s.names[p]))))
	}
	s.sample = slices.Clone(s.rng.Perm(cfg.Nodes)[:cfg.SampleNodes])
	for k, n := range s.sample {
		s.sampleOf[n] = k
	}
	s.today = make([]cost, len(s.sample))
	s.setup = make([]cost, len(s.sample))
	return s
}

// nodeKey is the Ed25519 key of label in the run of seed.
func nodeKey(seed uint64, label string) ed25519.PrivateKey {
	h := sha256.Sum256(fmt.Appendf(nil, "computemesh ledgersim %d %s", seed, label))
	return ed25519.NewKeyFromSeed(h[:])
}

// verify is the books' Verifier: the peer ID names the public key.
func (s *sim) verify(signer string, data, sig []byte) error {
	if s.trust {
		return nil
	}
	pub, ok := s.pubs[signer]
	if !ok {
		return fmt.Errorf("ed25519: unknown signer %s", signer)
	}
	if !ed25519.Verify(pub, data, sig) {
		return fmt.Errorf("ed25519: bad signature of %s", signer)
	}
	return nil
}

func (s *sim) newBook() *ledger.Book {
	b, err := ledger.NewBook(ledger.WithFaucet(network, s.faucet), ledger.WithVerifier(s.verify))
	if err != nil {
		panic(fmt.Sprintf("ledgersim: a book with a valid configuration: %v", err)) // a bug
	}
	return b
}

// book returns node n's book in the new design.
func (s *sim) book(n int) *ledger.Book {
	if s.books[n] == nil {
		s.books[n] = s.newBook()
	}
	return s.books[n]
}

// ensureGrant gives node n, in the new design, client c's grant: grants
// are gossiped to every node (counted as setup), so any node has it by
// the time it sees the client's receipts.
func (s *sim) ensureGrant(n, c int) error {
	k := [2]int{n, c}
	if s.hasGrant[k] {
		return nil
	}
	s.hasGrant[k] = true
	if err := s.book(n).AddGrant(s.grants[c]); err != nil && !errors.Is(err, ledger.ErrDuplicate) {
		return fmt.Errorf("grant to %s at %s: %w", s.names[c], s.names[n], err)
	}
	return nil
}

// words is a SHA-256 as four big-endian words (for XOR distances).
func words(h [32]byte) [4]uint64 {
	var w [4]uint64
	for i := range w {
		w[i] = binary.BigEndian.Uint64(h[8*i:])
	}
	return w
}

// holders returns account's holders: the Holders providers closest to
// SHA-256(ledger.AccountKey) by XOR distance over SHA-256 of their peer
// IDs, as the DHT's lookup finds them.
func (s *sim) holders(account string) []string {
	if h, ok := s.holderOf[account]; ok {
		return h
	}
	key := words(sha256.Sum256([]byte(ledger.AccountKey(network, account))))
	type cand struct {
		d [4]uint64
		i int
	}
	less := func(a, b [4]uint64) bool { return slices.Compare(a[:], b[:]) < 0 }
	var best []cand
	for i, pk := range s.provKeys {
		var d [4]uint64
		for w := range d {
			d[w] = pk[w] ^ key[w]
		}
		if len(best) == s.cfg.Holders && !less(d, best[len(best)-1].d) {
			continue
		}
		at := len(best)
		for at > 0 && less(d, best[at-1].d) {
			at--
		}
		best = slices.Insert(best, at, cand{d, i})
		if len(best) > s.cfg.Holders {
			best = best[:s.cfg.Holders]
		}
	}
	out := make([]string, len(best))
	for j, c := range best {
		out[j] = s.names[s.providers[c.i]]
	}
	s.holderOf[account] = out
	return out
}

// holderNodes is holders as node indexes.
func (s *sim) holderNodes(account string) []int {
	hs := s.holders(account)
	out := make([]int, len(hs))
	for i, h := range hs {
		out[i] = s.index[h]
	}
	return out
}

// receipt makes client c's next receipt to provider p at simulated time t,
// signed by both.
func (s *sim) receipt(c, p int, amount job.Credits, t float64) *job.Receipt {
	s.seq[c]++
	r := &job.Receipt{V: job.Version, Network: network, Job: jobID, Attempt: 1 + int(s.seq[c]-1)%job.MaxAttempt,
		Payer: s.names[c], Payee: s.names[p], Amount: amount, Seq: s.seq[c], TimeMS: epochMS + int64(t*1000)}
	sb := r.SigningBytes()
	r.PayerSig = ed25519.Sign(s.keys[c], sb)
	r.PayeeSig = ed25519.Sign(s.keys[p], sb)
	return r
}

// charge is a job's price: small, so that no client runs out.
func (s *sim) charge() job.Credits { return job.Credits(1+s.rng.IntN(maxCharge)) * 1_000_000 }

// setupGrants makes each client's grant and gossips it: every sampled
// node of today's design receives it D times and adds it (measured, as
// setup); in the new design the client and its holders have it (the
// rest get it when they first need it, ensureGrant).
func (s *sim) setupGrants() error {
	for range s.sample {
		s.todayBook = append(s.todayBook, s.newBook())
	}
	for _, c := range s.clients {
		g := &job.Grant{V: job.Version, Network: network, To: s.names[c], Amount: grantAmount,
			Nonce: fmt.Sprint("ledgersim-", c), TimeMS: epochMS - 1, Faucet: s.faucet}
		g.Sig = ed25519.Sign(s.faucetKey, g.SigningBytes())
		s.grants[c] = g
		msg := job.Encode(&gossipMsg{V: job.Version, Grant: g})
		s.sized("gossip grant", len(msg))
		for k := range s.sample {
			if err := s.receiveGossip(&s.setup[k], s.todayBook[k], msg, s.cfg.GossipDegree); err != nil {
				return err
			}
		}
		for _, n := range append(s.holderNodes(s.names[c]), c) {
			if err := s.ensureGrant(n, c); err != nil {
				return err
			}
		}
	}
	return nil
}

// setupHistory lays down each client's receipts before the measured
// window, trusted (unverified, uncounted): at the client, the payee, the
// client's holders and today's books. They are dated over the historySpan
// before the window.
func (s *sim) setupHistory() error {
	if s.cfg.History == 0 {
		return nil
	}
	s.trust = true
	defer func() { s.trust = false }()
	var none cost
	for _, c := range s.clients {
		holders := s.holderNodes(s.names[c])
		for i := range s.cfg.History {
			p := s.providers[s.rng.IntN(len(s.providers))]
			at := -historySpan.Seconds() * float64(s.cfg.History-i) / float64(s.cfg.History)
			r := s.receipt(c, p, s.charge(), at)
			for _, n := range append([]int{c, p}, holders...) {
				if err := s.ensureGrant(n, c); err != nil {
					return err
				}
				if _, err := keep(&none, s.book(n), r); err != nil {
					return fmt.Errorf("history at %s: %w", s.names[n], err)
				}
			}
			for _, b := range s.todayBook {
				if _, err := keep(&none, b, r); err != nil {
					return fmt.Errorf("history in today's book: %w", err)
				}
			}
		}
	}
	return nil
}

// run drives the workload: jobs arrive at JobsPerSecond (Poisson), each
// of a random client to a random provider.
func (s *sim) run() error {
	for t := s.rng.ExpFloat64() / s.cfg.JobsPerSecond; t < s.cfg.Seconds; t += s.rng.ExpFloat64() / s.cfg.JobsPerSecond {
		c := s.clients[s.rng.IntN(len(s.clients))]
		p := s.providers[s.rng.IntN(len(s.providers))]
		amount := s.charge()
		ok, err := s.judge(p, c, amount, t)
		if err != nil {
			return fmt.Errorf("job %d: judging %s: %w", s.jobs, s.names[c], err)
		}
		if !ok {
			s.checks.Refused++
			continue
		}
		s.jobs++
		r := s.receipt(c, p, amount, t)
		if err := s.settle(r, c, p); err != nil {
			return fmt.Errorf("job %d: %w", s.jobs, err)
		}
	}
	return nil
}

// settle is what follows a job in both designs: each party keeps the
// receipt (one write, one fsync); today both publish it; in the new
// design both send it to ledger.Recipients.
func (s *sim) settle(r *job.Receipt, c, p int) error {
	for _, n := range []int{c, p} {
		if err := s.ensureGrant(n, c); err != nil {
			return err
		}
		cs := &s.cost[n]
		if err := cs.timed(func() error { return keepOne(cs, s.book(n), r) }); err != nil {
			return fmt.Errorf("party %s keeping its receipt: %w", s.names[n], err)
		}
		if k, ok := s.sampleOf[n]; ok {
			ct := &s.today[k]
			if err := ct.timed(func() error { return keepOne(ct, s.todayBook[k], r) }); err != nil {
				return fmt.Errorf("party %s keeping its receipt (today): %w", s.names[n], err)
			}
		}
	}
	if err := s.gossip(r, c, p); err != nil {
		return fmt.Errorf("today: %w", err)
	}
	for _, n := range []int{c, p} {
		if err := s.push(r, n); err != nil {
			return fmt.Errorf("new design: %w", err)
		}
	}
	return nil
}

// keep adds r to b (the book verifies it) and, when it is new, charges
// c the log append it costs: its JSON and the log's framing. The fsync is
// the caller's to count: keepOne for a record added on its own, one per
// batch (Ledger.AddAll) for a sync answer or a store request.
func keep(c *cost, b *ledger.Book, r *job.Receipt) (bool, error) {
	proof, err := b.AddReceipt(r)
	switch {
	case errors.Is(err, ledger.ErrDuplicate):
		return false, nil
	case err != nil:
		return false, err
	case proof != nil:
		return false, fmt.Errorf("receipt %d of %s: an honest run found a double spend", r.Seq, r.Payer)
	}
	c.stored += int64(len(job.Encode(r)) + logFraming)
	c.recs++
	return true, nil
}

// keepOne is keep for a record added on its own (Ledger.AddReceipt):
// one fsync when it is new.
func keepOne(c *cost, b *ledger.Book, r *job.Receipt) error {
	added, err := keep(c, b, r)
	if added {
		c.fsyncs++
	}
	return err
}

// keepGrant is keep for a grant.
func keepGrant(c *cost, b *ledger.Book, g *job.Grant) (bool, error) {
	err := b.AddGrant(g)
	switch {
	case errors.Is(err, ledger.ErrDuplicate):
		return false, nil
	case err != nil:
		return false, err
	}
	c.stored += int64(len(job.Encode(g)) + logFraming)
	c.recs++
	return true, nil
}
