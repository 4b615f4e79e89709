package node

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/ledger"
	"github.com/computemesh/computemesh/mesh"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// receiptWait is how long a provider waits for its client's receipt after
// the result, and a client for the counter-signature.
const receiptWait = 30 * time.Second

// VerifySignature checks sig over data against the public key in the peer
// ID signer (the ledger's Verifier).
func VerifySignature(signer string, data, sig []byte) error { return verifyPeerSig(signer, data, sig) }

// verifyPeerSig checks sig over data against the public key in a peer ID.
func verifyPeerSig(signer string, data, sig []byte) error {
	p, err := peer.Decode(signer)
	if err != nil {
		return fmt.Errorf("signer %q: %w", signer, err)
	}
	pk, err := p.ExtractPublicKey()
	if err != nil {
		return fmt.Errorf("signer %s: no public key in its ID: %w", signer, err)
	}
	ok, err := pk.Verify(data, sig)
	if err != nil {
		return fmt.Errorf("signature of %s: %w", signer, err)
	}
	if !ok {
		return fmt.Errorf("signature of %s does not verify", signer)
	}
	return nil
}

// sign signs data with this node's identity key.
func (n *Node) sign(data []byte) ([]byte, error) {
	k := n.mesh.Host().Peerstore().PrivKey(n.ID())
	if k == nil {
		return nil, errors.New("no private key for this node's identity")
	}
	return k.Sign(data)
}

// openLedger opens the node's ledger (<data-dir>/ledger, or under the
// temporary store of a node without a data dir) and follows the ledger
// topic.
func (n *Node) openLedger() error {
	base := n.cfg.DataDir
	if base == "" {
		base = n.tmpStore
	}
	opts := []ledger.Option{ledger.WithNetwork(n.mesh.NetworkName()), ledger.WithVerifier(verifyPeerSig),
		ledger.WithLogger(slog.New(ledgerLogHandler{}))}
	if n.cfg.Faucet != "" {
		opts = append(opts, ledger.WithFaucet(n.mesh.NetworkName(), n.cfg.Faucet))
	}
	var err error
	n.book, err = ledger.Open(filepath.Join(base, "ledger"), opts...)
	if err != nil {
		return err
	}
	if n.cfg.Faucet != "" {
		n.mesh.RelayRequestsFrom(n.canPay)
	}
	return n.mesh.OnLedger(n.onLedger)
}

// canPay reports whether this node's ledger says author could pay for a
// job: a positive balance and no fraud proof against it. On a network with
// credits, job requests relayed from authors that cannot are not handled
// or forwarded (see mesh.RelayRequestsFrom); an author it knows nothing
// of is judged in the background, so that its next ones are.
func (n *Node) canPay(author peer.ID) bool {
	id := author.String()
	if n.book.Spendable(id) > 0 {
		return !n.book.Fraudulent(id)
	}
	n.judgeLater(author) // perhaps a grant or earnings this node never saw
	return false
}

// onLedger adds a gossiped record (a grant or a fraud proof: receipts go
// to their holders, ledgerstore.go) to the ledger.
func (n *Node) onLedger(m *mesh.LedgerMsg, from peer.ID) {
	var err error
	switch {
	case m.Fraud != nil:
		err = n.book.AddFraud(m.Fraud)
	case m.Grant != nil:
		err = n.book.AddGrant(m.Grant)
	}
	switch {
	case errors.Is(err, ledger.ErrDuplicate):
	case err != nil:
		n.metrics.ledgerRejected.Inc()
		log.Infof("ledger: refusing a record gossiped by %s: %v", from, err)
	}
}

// claim is a provider's payment for a run whose receipt did not come (the
// client went away, cancelled, or sent a wrong one): it signs a claim of
// min(amount, authorised maximum) on the client's authorisation, which
// fills the slot of the client's chain that the authorisation took, keeps
// it and sends it to its recipients (the client among them).
func (n *Node) claim(a *job.Award, amount job.Credits, why string) {
	auth := a.Auth
	if n.cfg.Faucet == "" || auth == nil || auth.Seq == 0 {
		return
	}
	c := &job.Receipt{V: job.Version, Network: auth.Network, Job: a.Job, Attempt: a.Attempt, Payer: auth.Payer,
		Payee: n.ID().String(), Amount: min(amount, auth.Max), Seq: auth.Seq, TimeMS: time.Now().UnixMilli(), Auth: auth}
	sig, err := n.sign(c.SigningBytes())
	if err != nil {
		log.Errorf("claiming job %s attempt %d: %v", a.Job, a.Attempt, err)
		return
	}
	c.PayeeSig = sig
	fraud, err := n.book.AddReceipt(c)
	if err != nil && !errors.Is(err, ledger.ErrDuplicate) {
		log.Errorf("claiming job %s attempt %d: keeping the claim: %v", a.Job, a.Attempt, err)
		return
	}
	if fraud != nil {
		n.reportFraud(fraud)
	}
	n.owed.settle(a.Job, a.Attempt)
	n.metrics.claims.Inc()
	log.Infof("job %s attempt %d: claimed %s credits from %s on its authorisation (slot %d): %s", a.Job, a.Attempt, c.Amount, auth.Payer, auth.Seq, why)
	n.pushRecord(c)
}

// voidUnpaid fills the slot of an attempt this node authorised and did not
// pay (declined, failed, never answered, cancelled) with a receipt of 0;
// the provider's claim, if it ran, prevails over it.
func (n *Node) voidUnpaid(auth *job.Authorization) {
	if n.cfg.Faucet == "" || auth == nil || auth.Seq == 0 {
		return
	}
	r, err := n.book.Void(auth, time.Now().UnixMilli(), n.sign)
	if err != nil {
		log.Errorf("voiding slot %d (job %s attempt %d): %v", auth.Seq, auth.Job, auth.Attempt, err)
		return
	}
	if r != nil {
		n.pushRecord(r)
	}
}

// voidUnfilled voids, at start, the slots of this node's authorisations
// whose outcome a crash or a stop lost.
func (n *Node) voidUnfilled() {
	for _, a := range n.book.Unfilled(n.ID().String()) {
		n.voidUnpaid(&a)
	}
}

// reportFraud gossips a double spend this node found.
func (n *Node) reportFraud(p *job.FraudProof) {
	log.Warnf("ledger: payer %s signed two receipts with sequence number %d: refusing its awards from now on", p.A.Payer, p.A.Seq)
	ctx, cancel := context.WithTimeout(n.ctx, 5*time.Second)
	defer cancel()
	if err := n.mesh.PublishLedger(ctx, &mesh.LedgerMsg{Fraud: p}); err != nil {
		log.Debugf("gossiping a fraud proof: %v", err)
	}
}

// receiptOffer is the client's receipt, signed by it alone, as it sends it
// to the provider after the result.
type receiptOffer struct {
	Receipt job.Receipt `json:"receipt"`
}

// Validate checks the offer: every field, and the payer's signature present.
func (o *receiptOffer) Validate() error {
	if err := o.Receipt.ValidateUnsigned(); err != nil {
		return err
	}
	if len(o.Receipt.PayerSig) == 0 {
		return fmt.Errorf("payer_sig: missing")
	}
	if len(o.Receipt.PayeeSig) != 0 {
		return fmt.Errorf("payee_sig: the payee signs, not the payer")
	}
	return nil
}

// payReceipt is the client's side of settling an attempt: sign a receipt
// for the charge in the slot its authorisation took and keep it (durably,
// before anything else: the number is then never used twice nor skipped),
// send it on the award stream, check the provider's counter-signature and
// send the receipt to its holders. Signed, the receipt pays: if the
// provider does not counter-sign it, the client sends it as it is (the
// provider's claim, if it makes one, prevails over it).
func (n *Node) payReceipt(st network.Stream, r *bufio.Reader, a *job.Award, charge job.Credits) error {
	if err := n.learnOwnHistory(st.Conn().RemotePeer()); err != nil {
		return err
	}
	var seq uint64 // the slot the authorisation took (none: the next)
	if a.Auth != nil {
		seq = a.Auth.Seq
	}
	rc, fraud, err := n.book.Pay(&job.Receipt{
		V: job.Version, Network: n.mesh.NetworkName(), Job: a.Job, Attempt: a.Attempt, Payer: n.ID().String(),
		Payee: a.Bid.Provider, Amount: charge, Seq: seq, TimeMS: time.Now().UnixMilli(),
	}, n.sign)
	if err != nil {
		return fmt.Errorf("signing the receipt: %w", err)
	}
	if fraud != nil {
		n.reportFraud(fraud) // this node's own history was incomplete
	}
	back, err := n.counterSigned(st, r, rc)
	if err != nil {
		n.pushRecord(rc) // signed, it pays: its holders need it
		return err
	}
	n.pushRecord(back)
	return nil
}

// counterSigned sends the client's signed receipt to the provider and
// returns it counter-signed.
func (n *Node) counterSigned(st network.Stream, r *bufio.Reader, rc *job.Receipt) (*job.Receipt, error) {
	_ = st.SetDeadline(time.Now().Add(receiptWait))
	if err := mesh.WriteMsg(st, receiptOffer{Receipt: *rc}); err != nil {
		return nil, fmt.Errorf("sending the receipt: %w", err)
	}
	var reply job.Reply
	if err := mesh.ReadMsg(r, job.MaxReplySize, &reply); err != nil {
		return nil, fmt.Errorf("waiting for the counter-signed receipt: %w", err)
	}
	if reply.Type != job.ReplyReceipt || reply.Receipt == nil {
		return nil, fmt.Errorf("a %q reply instead of the counter-signed receipt", reply.Type)
	}
	back := *reply.Receipt
	signed := back
	signed.PayeeSig = nil
	if string(signed.SigningBytes()) != string(rc.SigningBytes()) || string(back.PayerSig) != string(rc.PayerSig) {
		return nil, errors.New("the counter-signed receipt is not the one sent")
	}
	if err := verifyPeerSig(back.Payee, back.SigningBytes(), back.PayeeSig); err != nil {
		return nil, fmt.Errorf("the counter-signature: %w", err)
	}
	return &back, nil
}

// takeReceipt is the provider's side: read the client's receipt for this
// attempt, check it against the result, counter-sign it, keep it in the
// ledger (durably) before acknowledging it, answer and send it to its
// holders.
func (n *Node) takeReceipt(s network.Stream, br *bufio.Reader, a *job.Award, client peer.ID, charge job.Credits) error {
	_ = s.SetDeadline(time.Now().Add(receiptWait))
	var o receiptOffer
	if err := mesh.ReadMsg(br, MaxReceiptOffer, &o); err != nil {
		return fmt.Errorf("reading the receipt: %w", err)
	}
	rc := o.Receipt
	switch {
	case rc.Network != n.mesh.NetworkName():
		return fmt.Errorf("receipt for network %q, not %q", rc.Network, n.mesh.NetworkName())
	case rc.Job != a.Job || rc.Attempt != a.Attempt:
		return fmt.Errorf("receipt for job %s attempt %d, not %s attempt %d", rc.Job, rc.Attempt, a.Job, a.Attempt)
	case rc.Payer != client.String() || rc.Payee != n.ID().String():
		return fmt.Errorf("receipt from %s to %s, not from the client %s to this provider", rc.Payer, rc.Payee, client)
	case rc.Amount != charge:
		return fmt.Errorf("receipt for %s credits, the charge is %s", rc.Amount, charge)
	case a.Auth != nil && a.Auth.Seq != 0 && rc.Seq != a.Auth.Seq:
		return fmt.Errorf("receipt with sequence number %d, the authorisation took %d", rc.Seq, a.Auth.Seq)
	}
	if err := verifyPeerSig(rc.Payer, rc.SigningBytes(), rc.PayerSig); err != nil {
		return fmt.Errorf("receipt: %w", err)
	}
	sig, err := n.sign(rc.SigningBytes())
	if err != nil {
		return err
	}
	rc.PayeeSig = sig
	fraud, err := n.book.AddReceipt(&rc)
	if err != nil && !errors.Is(err, ledger.ErrDuplicate) { // the client's gossip may come first
		return fmt.Errorf("keeping the receipt: %w", err)
	}
	if fraud != nil {
		n.reportFraud(fraud)
	}
	if err := mesh.WriteMsg(s, job.Reply{Type: job.ReplyReceipt, Receipt: &rc}); err != nil {
		return fmt.Errorf("returning the counter-signed receipt: %w", err)
	}
	n.pushRecord(&rc)
	return nil
}

// MaxReceiptOffer bounds the client's receipt message.
const MaxReceiptOffer = 4 << 10

// Credits returns this node's balance and recent receipts.
func (n *Node) Credits(recent int) api.Credits {
	self := n.ID().String()
	return api.Credits{Peer: self, Balance: n.book.Balance(self), Receipts: n.book.Receipts(self, recent), Ledger: n.book.Stats()}
}

// Ledger returns the node's ledger.
func (n *Node) Ledger() *ledger.Ledger { return n.book }

// ledgerLogHandler sends the ledger's slog warnings to the node's log.
type ledgerLogHandler struct{}

func (ledgerLogHandler) Enabled(context.Context, slog.Level) bool { return true }
func (ledgerLogHandler) Handle(_ context.Context, r slog.Record) error {
	msg := r.Message
	r.Attrs(func(a slog.Attr) bool { msg += " " + a.String(); return true })
	if r.Level >= slog.LevelError {
		log.Errorf("%s", msg)
	} else {
		log.Warnf("%s", msg)
	}
	return nil
}
func (h ledgerLogHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h ledgerLogHandler) WithGroup(string) slog.Handler      { return h }

// funded says why a client may not be served on this network (its
// balance in this node's ledger below price plus what its standing bids
// here already commit, or a double spend on record), or "" when it may.
// Networks without a faucet have no balances to check.
func (n *Node) funded(client string, committed, price job.Credits) string {
	if n.cfg.Faucet == "" {
		return ""
	}
	if n.book.Fraudulent(client) {
		return fmt.Sprintf("client %s signed two receipts with one sequence number (fraud proof held): refused", client)
	}
	b := n.book.Available(client) // its pending spending (after a gap) is not free
	switch {
	case committed > 0 && b < committed+price:
		return fmt.Sprintf("client %s has %s credits in this provider's ledger, its standing bids and unpaid runs here commit %s, the price is %s", client, b, committed, price)
	case b < price:
		return fmt.Sprintf("client %s has %s credits in this provider's ledger, the price is %s", client, b, price)
	}
	return ""
}

// authorize signs the client's promise to pay at most max for an attempt.
// On a network with credits it takes the next slot of this node's chain,
// durably (see ledger.Ledger.Authorize): the attempt's receipt, its void or
// the provider's claim fills it.
func (n *Node) authorize(a *job.Award, max job.Credits) (*job.Authorization, error) {
	auth := &job.Authorization{
		V: job.Version, Network: n.mesh.NetworkName(), Job: a.Job, Attempt: a.Attempt, Payer: n.ID().String(),
		Payee: a.Bid.Provider, Max: max, ExpiresMS: time.Now().Add(a.Spec.Timeout() + 10*time.Minute).UnixMilli(),
	}
	if n.cfg.Faucet != "" {
		p, err := peer.Decode(a.Bid.Provider)
		if err != nil {
			return nil, fmt.Errorf("bidder ID %q: %w", a.Bid.Provider, err)
		}
		if err := n.learnOwnHistory(p); err != nil {
			return nil, err
		}
		return n.book.Authorize(auth, n.sign)
	}
	sig, err := n.sign(auth.SigningBytes())
	if err != nil {
		return nil, err
	}
	auth.Sig = sig
	return auth, nil
}

// checkAuthorization checks an award's spending authorisation: signed by
// the client, for this attempt, to this provider, covering pay, unexpired.
func (n *Node) checkAuthorization(a *job.Award, client peer.ID, pay job.Credits) string {
	auth := a.Auth
	switch {
	case auth == nil:
		return "no spending authorisation: this network has credits, and its providers require one"
	case auth.Payer != client.String() || auth.Payee != n.ID().String():
		return fmt.Sprintf("the authorisation is from %s to %s, not from the client to this provider", auth.Payer, auth.Payee)
	case auth.Job != a.Job || auth.Attempt != a.Attempt || auth.Network != n.mesh.NetworkName():
		return "the authorisation is for another job, attempt or network"
	case auth.Max < pay:
		return fmt.Sprintf("the authorisation covers %s credits, the pay is %s", auth.Max, pay)
	case time.Now().UnixMilli() > auth.ExpiresMS:
		return "the authorisation has expired"
	case auth.Seq == 0:
		return "the authorisation takes no slot of the client's chain (seq 0): this network has credits, and a provider's claim needs one"
	}
	if err := n.book.VerifyAuthorization(auth); err != nil {
		return "the authorisation: " + err.Error()
	}
	return ""
}

// AddGrant adds a faucet's grant to this node's ledger and gossips it.
func (n *Node) AddGrant(ctx context.Context, g *job.Grant) error {
	if err := n.book.AddGrant(g); err != nil && !errors.Is(err, ledger.ErrDuplicate) {
		return err
	}
	return n.mesh.PublishLedger(ctx, &mesh.LedgerMsg{Grant: g})
}

// SignGrant makes a grant of amount to peer to, signed by the faucet key
// (in export format), for network.
func SignGrant(faucetKey []byte, network, to string, amount job.Credits) (*job.Grant, error) {
	k, id, err := mesh.ParseExportedKey(faucetKey)
	if err != nil {
		return nil, fmt.Errorf("faucet key: %w", err)
	}
	nonce := make([]byte, 12)
	_, _ = rand.Read(nonce)
	g := &job.Grant{V: job.Version, Network: network, To: to, Amount: amount, Nonce: hex.EncodeToString(nonce),
		TimeMS: time.Now().UnixMilli(), Faucet: id.String()}
	if err := g.ValidateUnsigned(); err != nil {
		return nil, err
	}
	if g.Sig, err = k.Sign(g.SigningBytes()); err != nil {
		return nil, fmt.Errorf("signing the grant: %w", err)
	}
	return g, g.Validate()
}
