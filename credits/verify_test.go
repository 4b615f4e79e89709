package credits

import (
	"crypto/rand"
	"fmt"
	"strings"
	"testing"

	"github.com/computemesh/computemesh/ledger"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

type signer struct {
	id  string
	key crypto.PrivKey
}

func newSigner(t *testing.T, typ int) signer {
	t.Helper()
	bits := -1
	if typ == crypto.RSA {
		bits = 2048
	}
	k, _, err := crypto.GenerateKeyPairWithReader(typ, bits, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return signer{id.String(), k}
}

func (s signer) sign(t *testing.T, msg string) ledger.Signed {
	t.Helper()
	sig, err := s.key.Sign([]byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	return ledger.Signed{Signer: s.id, Data: []byte(msg), Sig: sig}
}

// TestVerifierBatch: a batch of valid signatures by Ed25519 and other
// keys passes; one forged signature (a valid signature of another signer,
// or of other data) fails the batch, and the single check says which.
func TestVerifierBatch(t *testing.T) {
	v := NewVerifier()
	var signers []signer
	for i := 0; i < 6; i++ {
		signers = append(signers, newSigner(t, crypto.Ed25519))
	}
	signers = append(signers, newSigner(t, crypto.Secp256k1))
	var sigs []ledger.Signed
	for i := 0; i < 40; i++ {
		sigs = append(sigs, signers[i%len(signers)].sign(t, fmt.Sprintf("receipt %d", i)))
	}
	if !v.VerifyBatch(sigs) {
		t.Fatal("a batch of valid signatures fails")
	}
	forgeries := map[string]func(s ledger.Signed) ledger.Signed{
		"another signer's": func(s ledger.Signed) ledger.Signed {
			s.Sig = signers[0].sign(t, string(s.Data)).Sig
			return s
		},
		"other data": func(s ledger.Signed) ledger.Signed {
			s.Data = append([]byte("x"), s.Data...)
			return s
		},
		"not a peer": func(s ledger.Signed) ledger.Signed {
			s.Signer = "not a peer"
			return s
		},
	}
	for name, forge := range forgeries {
		for _, at := range []int{3, 6} { // an Ed25519 signer's, the secp256k1 one's
			t.Run(fmt.Sprintf("%s_at_%d", name, at), func(t *testing.T) {
				bad := append([]ledger.Signed(nil), sigs...)
				bad[at] = forge(bad[at])
				if v.VerifyBatch(bad) {
					t.Fatal("a batch with a forged signature passes")
				}
				for i, s := range bad {
					err := v.Verify(s.Signer, s.Data, s.Sig)
					if (err != nil) != (i == at) {
						t.Fatalf("Verify of signature %d: %v", i, err)
					}
					if err2 := VerifySignature(s.Signer, s.Data, s.Sig); (err2 == nil) != (err == nil) {
						t.Fatalf("VerifySignature and a Verifier disagree on signature %d: %v, %v", i, err2, err)
					}
				}
			})
		}
	}
}

// TestVerifierCacheBound: the decoded keys stay bounded however many
// signers a node sees.
func TestVerifierCacheBound(t *testing.T) {
	v := NewVerifier()
	s := newSigner(t, crypto.Ed25519)
	sig := s.sign(t, "m")
	for i := 0; i < maxCachedSigners+10; i++ {
		// Distinct strings that name no peer are refused, not cached.
		if err := v.Verify(fmt.Sprintf("bad%d", i), nil, nil); err == nil || !strings.Contains(err.Error(), "signer") {
			t.Fatalf("a bad signer: %v", err)
		}
	}
	for i := 0; i < maxCachedSigners+10; i++ {
		o := newSigner(t, crypto.Ed25519)
		if _, err := v.key(o.id); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(v.keys); n > maxCachedSigners {
		t.Fatalf("%d keys cached, bound %d", n, maxCachedSigners)
	}
	if err := v.Verify(sig.Signer, sig.Data, sig.Sig); err != nil {
		t.Fatal(err)
	}
}
