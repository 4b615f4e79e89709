package sigverify

import (
	"crypto/rand"
	"crypto/sha512"
	"errors"
	"fmt"

	"filippo.io/edwards25519"
)

// KeySize and SignatureSize are the sizes of an Ed25519 public key and
// signature.
const (
	KeySize       = 32
	SignatureSize = 64
)

// Key is a decoded Ed25519 public key; decoding it once saves a square
// root per check.
type Key struct {
	enc  [KeySize]byte
	negA edwards25519.Point // −A
}

// ParseKey decodes an Ed25519 public key. Any encoding of a curve point
// is accepted, as the rule says.
func ParseKey(pub []byte) (*Key, error) {
	if len(pub) != KeySize {
		return nil, fmt.Errorf("ed25519 public key: %d bytes, want %d", len(pub), KeySize)
	}
	var a edwards25519.Point
	if _, err := a.SetBytes(pub); err != nil {
		return nil, fmt.Errorf("ed25519 public key: not a curve point: %w", err)
	}
	k := &Key{}
	copy(k.enc[:], pub)
	k.negA.Negate(&a)
	return k, nil
}

// Bytes returns the key's encoding, as it was parsed.
func (k *Key) Bytes() []byte { return append([]byte(nil), k.enc[:]...) }

var errSignature = errors.New("ed25519 signature: malformed")

// parsed holds a signature's R, s and challenge k.
type parsed struct {
	r    edwards25519.Point
	s, k edwards25519.Scalar
}

func parse(key *Key, msg, sig []byte, p *parsed) error {
	if len(sig) != SignatureSize {
		return fmt.Errorf("ed25519 signature: %d bytes, want %d", len(sig), SignatureSize)
	}
	if _, err := p.r.SetBytes(sig[:32]); err != nil {
		return errSignature
	}
	if _, err := p.s.SetCanonicalBytes(sig[32:]); err != nil {
		return errSignature
	}
	h := sha512.New()
	h.Write(sig[:32])
	h.Write(key.enc[:])
	h.Write(msg)
	var digest [64]byte
	if _, err := p.k.SetUniformBytes(h.Sum(digest[:0])); err != nil {
		return err // cannot happen: 64 bytes
	}
	return nil
}

// Verify reports whether sig is key's signature of msg under the
// package's rule.
func Verify(key *Key, msg, sig []byte) bool {
	var p parsed
	if parse(key, msg, sig, &p) != nil {
		return false
	}
	// [s]B − [k]A − R, times the cofactor.
	var v edwards25519.Point
	v.VarTimeDoubleScalarBaseMult(&p.k, &key.negA, &p.s)
	v.Subtract(&v, &p.r)
	v.MultByCofactor(&v)
	return v.Equal(edwards25519.NewIdentityPoint()) == 1
}

// Batch collects signatures to check at once. The zero value is an empty
// batch; a Batch is not safe for concurrent use.
type Batch struct {
	items []item
}

type item struct {
	key      *Key
	msg, sig []byte
}

// Add queues sig, key's signature of msg, for the next Verify. msg and
// sig are not copied: they must not change until Verify returns.
func (b *Batch) Add(key *Key, msg, sig []byte) {
	b.items = append(b.items, item{key, msg, sig})
}

// Len returns the number of signatures queued.
func (b *Batch) Len() int { return len(b.items) }

// Verify reports whether every queued signature passes the package's
// rule, and empties the batch. It is false when at least one fails;
// Verify of each says which.
func (b *Batch) Verify() bool {
	items := b.items
	b.items = b.items[:0]
	switch len(items) {
	case 0:
		return true
	case 1:
		return Verify(items[0].key, items[0].msg, items[0].sig)
	}
	// Σ z_i R_i + Σ_keys (Σ z_i k_i) A − (Σ z_i s_i) B = 0, times the
	// cofactor, with random 128-bit weights z_i. Signatures by the same key
	// share one term for it.
	weights := make([]byte, 16*len(items))
	rand.Read(weights)
	scalars := make([]*edwards25519.Scalar, 0, 2*len(items)+1)
	points := make([]*edwards25519.Point, 0, 2*len(items)+1)
	bCoeff := edwards25519.NewScalar()
	scalars = append(scalars, bCoeff)
	points = append(points, edwards25519.NewGeneratorPoint())
	perKey := make(map[[KeySize]byte]*edwards25519.Scalar)
	ps := make([]parsed, len(items))
	for i, it := range items {
		p := &ps[i]
		if parse(it.key, it.msg, it.sig, p) != nil {
			return false
		}
		var wide [32]byte
		copy(wide[:16], weights[16*i:16*i+16])
		z, err := edwards25519.NewScalar().SetCanonicalBytes(wide[:])
		if err != nil {
			return false // cannot happen: below 2¹²⁸
		}
		bCoeff.MultiplyAdd(z, &p.s, bCoeff)
		scalars = append(scalars, z)
		points = append(points, &p.r)
		c := perKey[it.key.enc]
		if c == nil {
			c = edwards25519.NewScalar()
			perKey[it.key.enc] = c
			// −A is kept: its weight is negated below.
			scalars = append(scalars, c)
			points = append(points, &it.key.negA)
		}
		c.MultiplyAdd(z, &p.k, c)
	}
	// The terms for A were added as −A and B's as +B: negate B's weight
	// and every key's so the sum reads as above.
	bCoeff.Negate(bCoeff)
	for _, c := range perKey {
		c.Negate(c)
	}
	var v edwards25519.Point
	v.VarTimeMultiScalarMult(scalars, points)
	v.MultByCofactor(&v)
	return v.Equal(edwards25519.NewIdentityPoint()) == 1
}
