package ledger_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/ledger"
)

const (
	testNet    = "testnet"
	testFaucet = "faucet"
	testJob    = "bafkreigbq32h2ndothmrbtrps5nfxzddy6jtsilkqtqeynhusawjofijra"
)

// keys maps test "peer IDs" to Ed25519 keys derived from their names.
type keys map[string]ed25519.PrivateKey

func (k keys) key(peer string) ed25519.PrivateKey {
	if p, ok := k[peer]; ok {
		return p
	}
	seed := sha256.Sum256([]byte("computemesh test key " + peer))
	p := ed25519.NewKeyFromSeed(seed[:])
	k[peer] = p
	return p
}

// pubKeys caches the public keys derived from peer names, as the node
// caches the keys of peer IDs.
var pubKeys sync.Map // string → ed25519.PublicKey

// verifier checks signatures with the keys derived from peer names.
func verifier() ledger.Verifier {
	return func(signer string, data, sig []byte) error {
		pub, ok := pubKeys.Load(signer)
		if !ok {
			seed := sha256.Sum256([]byte("computemesh test key " + signer))
			pub, _ = pubKeys.LoadOrStore(signer, ed25519.NewKeyFromSeed(seed[:]).Public())
		}
		if !ed25519.Verify(pub.(ed25519.PublicKey), data, sig) {
			return fmt.Errorf("ed25519: bad signature of %s", signer)
		}
		return nil
	}
}

// batchVerifier checks a batch with the test verifier, counting its
// batches (the ledger stays pure: the node's batch check, and its test,
// are in credits and internal/sigverify).
func batchVerifier(batches *atomic.Int32) ledger.BatchVerifier {
	v := verifier()
	return func(sigs []ledger.Signed) bool {
		batches.Add(1)
		for _, s := range sigs {
			if v(s.Signer, s.Data, s.Sig) != nil {
				return false
			}
		}
		return true
	}
}

func (k keys) receipt(payer, payee string, amount job.Credits, seq uint64) *job.Receipt {
	r := &job.Receipt{V: job.Version, Network: testNet, Job: testJob, Attempt: 1, Payer: payer, Payee: payee,
		Amount: amount, Seq: seq, TimeMS: 1_700_000_000_000 + int64(seq)}
	k.sign(r)
	return r
}

func (k keys) sign(r *job.Receipt) {
	sb := r.SigningBytes()
	r.PayerSig = ed25519.Sign(k.key(r.Payer), sb)
	r.PayeeSig = ed25519.Sign(k.key(r.Payee), sb)
}

// auth is payer's authorisation of slot seq for job/attempt to payee.
func (k keys) auth(payer, payee, jobID string, attempt int, max job.Credits, seq uint64) *job.Authorization {
	a := &job.Authorization{V: job.Version, Network: testNet, Job: jobID, Attempt: attempt, Payer: payer, Payee: payee,
		Max: max, ExpiresMS: 1_800_000_000_000, Seq: seq}
	a.Sig = ed25519.Sign(k.key(payer), a.SigningBytes())
	return a
}

// claim is the payee's claim of amount on a.
func (k keys) claim(a *job.Authorization, amount job.Credits) *job.Receipt {
	r := &job.Receipt{V: job.Version, Network: a.Network, Job: a.Job, Attempt: a.Attempt, Payer: a.Payer, Payee: a.Payee,
		Amount: amount, Seq: a.Seq, TimeMS: 1_700_000_000_000 + int64(a.Seq), Auth: a}
	r.PayeeSig = ed25519.Sign(k.key(a.Payee), r.SigningBytes())
	return r
}

func (k keys) grant(signer, to string, amount job.Credits, nonce string) *job.Grant {
	g := &job.Grant{V: job.Version, Network: testNet, To: to, Amount: amount, Nonce: nonce, TimeMS: 1_700_000_000_000, Faucet: signer}
	g.Sig = ed25519.Sign(k.key(signer), g.SigningBytes())
	return g
}

func opts() []ledger.Option {
	return []ledger.Option{ledger.WithFaucet(testNet, testFaucet), ledger.WithVerifier(verifier())}
}

// tb is what the helpers need of a *testing.T or a *rapid.T.
type tb interface {
	Helper()
	Fatal(args ...any)
}

func newBook(t tb) *ledger.Book {
	t.Helper()
	b, err := ledger.NewBook(opts()...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func openLedger(t testing.TB, dir string, extra ...ledger.Option) *ledger.Ledger {
	t.Helper()
	l, err := ledger.Open(dir, append(opts(), extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}
