package credits

import (
	"fmt"
	"sync"

	"github.com/computemesh/computemesh/internal/sigverify"
	"github.com/computemesh/computemesh/ledger"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// VerifySignature checks sig over data against the public key in the peer
// ID signer (the ledger's Verifier). Ed25519 keys are checked under
// internal/sigverify's rule, the one batches use (see Verifier); other
// key types by libp2p.
func VerifySignature(signer string, data, sig []byte) error {
	k, err := parseSigner(signer)
	if err != nil {
		return err
	}
	return k.verify(signer, data, sig)
}

// signerKey is a signer's public key, decoded from its peer ID.
type signerKey struct {
	ed    *sigverify.Key // an Ed25519 key
	other crypto.PubKey  // any other type
}

func parseSigner(signer string) (signerKey, error) {
	p, err := peer.Decode(signer)
	if err != nil {
		return signerKey{}, fmt.Errorf("signer %q: %w", signer, err)
	}
	pk, err := p.ExtractPublicKey()
	if err != nil {
		return signerKey{}, fmt.Errorf("signer %s: no public key in its ID: %w", signer, err)
	}
	if pk.Type() != crypto.Ed25519 {
		return signerKey{other: pk}, nil
	}
	raw, err := pk.Raw()
	if err != nil {
		return signerKey{}, fmt.Errorf("signer %s: %w", signer, err)
	}
	k, err := sigverify.ParseKey(raw)
	if err != nil {
		return signerKey{}, fmt.Errorf("signer %s: %w", signer, err)
	}
	return signerKey{ed: k}, nil
}

func (k signerKey) verify(signer string, data, sig []byte) error {
	if k.ed != nil {
		if !sigverify.Verify(k.ed, data, sig) {
			return fmt.Errorf("signature of %s does not verify", signer)
		}
		return nil
	}
	ok, err := k.other.Verify(data, sig)
	if err != nil {
		return fmt.Errorf("signature of %s: %w", signer, err)
	}
	if !ok {
		return fmt.Errorf("signature of %s does not verify", signer)
	}
	return nil
}

// maxCachedSigners bounds a Verifier's decoded keys; past it the cache
// starts again (a key is decoded from its peer ID alone, so a miss costs
// time, never trust).
const maxCachedSigners = 4096

// Verifier checks ledger signatures as VerifySignature does, with each
// signer's key decoded from its peer ID once, and checks a batch of
// Ed25519 signatures at once (several times faster per signature: a
// holder's store request, a judge's sync answer).
type Verifier struct {
	mu   sync.Mutex
	keys map[string]signerKey
}

// NewVerifier returns a Verifier with an empty key cache.
func NewVerifier() *Verifier { return &Verifier{keys: map[string]signerKey{}} }

func (v *Verifier) key(signer string) (signerKey, error) {
	v.mu.Lock()
	k, ok := v.keys[signer]
	v.mu.Unlock()
	if ok {
		return k, nil
	}
	k, err := parseSigner(signer)
	if err != nil {
		return k, err
	}
	v.mu.Lock()
	if len(v.keys) >= maxCachedSigners {
		clear(v.keys)
	}
	v.keys[signer] = k
	v.mu.Unlock()
	return k, nil
}

// Verify is the ledger's Verifier.
func (v *Verifier) Verify(signer string, data, sig []byte) error {
	k, err := v.key(signer)
	if err != nil {
		return err
	}
	return k.verify(signer, data, sig)
}

// VerifyBatch is the ledger's BatchVerifier: true when every signature of
// sigs verifies. Keys of other types than Ed25519 are checked one by one.
func (v *Verifier) VerifyBatch(sigs []ledger.Signed) bool {
	var b sigverify.Batch
	for _, s := range sigs {
		k, err := v.key(s.Signer)
		if err != nil {
			return false
		}
		if k.ed == nil {
			if k.verify(s.Signer, s.Data, s.Sig) != nil {
				return false
			}
			continue
		}
		b.Add(k.ed, s.Data, s.Sig)
	}
	return b.Verify()
}
