package sigverify

import (
	"crypto/ed25519"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"testing"

	"filippo.io/edwards25519"
)

func newKey(t testing.TB, seed byte) (ed25519.PrivateKey, *Key) {
	t.Helper()
	s := make([]byte, ed25519.SeedSize)
	s[0] = seed
	priv := ed25519.NewKeyFromSeed(s)
	k, err := ParseKey(priv.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	return priv, k
}

func TestHonestSignatures(t *testing.T) {
	for _, n := range []int{1, 2, 3, 16, 64} {
		for _, keys := range []int{1, 3, n} {
			t.Run(fmt.Sprintf("%d_by_%d_keys", n, keys), func(t *testing.T) {
				var b Batch
				for i := 0; i < n; i++ {
					priv, k := newKey(t, byte(i%keys))
					msg := []byte(fmt.Sprintf("receipt %d", i))
					sig := ed25519.Sign(priv, msg)
					if !Verify(k, msg, sig) {
						t.Fatalf("signature %d does not verify alone", i)
					}
					b.Add(k, msg, sig)
				}
				if !b.Verify() {
					t.Fatal("a batch of valid signatures does not verify")
				}
				if b.Len() != 0 {
					t.Fatalf("Verify left %d signatures queued", b.Len())
				}
			})
		}
	}
}

// TestOneBadSignatureFailsTheBatch tampers with each part of one signature
// of a batch in turn: the message, R, s, and s past the group order.
func TestOneBadSignatureFailsTheBatch(t *testing.T) {
	ell, _ := hex.DecodeString("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
	tamper := map[string]func(msg, sig []byte) ([]byte, []byte){
		"message": func(msg, sig []byte) ([]byte, []byte) { return append([]byte("x"), msg...), sig },
		"R": func(msg, sig []byte) ([]byte, []byte) {
			s := append([]byte(nil), sig...)
			s[3] ^= 1
			return msg, s
		},
		"s": func(msg, sig []byte) ([]byte, []byte) {
			s := append([]byte(nil), sig...)
			s[40] ^= 1
			return msg, s
		},
		"s_plus_order": func(msg, sig []byte) ([]byte, []byte) {
			// s + ℓ: the same scalar, not canonical.
			s := append([]byte(nil), sig...)
			var carry int
			for i := 0; i < 32; i++ {
				v := int(s[32+i]) + int(ell[i]) + carry
				s[32+i], carry = byte(v), v>>8
			}
			return msg, s
		},
		"short": func(msg, sig []byte) ([]byte, []byte) { return msg, sig[:63] },
	}
	for name, f := range tamper {
		t.Run(name, func(t *testing.T) {
			for bad := 0; bad < 8; bad += 7 {
				var b Batch
				for i := 0; i < 8; i++ {
					priv, k := newKey(t, byte(i%3))
					msg := []byte(fmt.Sprintf("receipt %d", i))
					sig := ed25519.Sign(priv, msg)
					if i == bad {
						msg, sig = f(msg, sig)
						if Verify(k, msg, sig) {
							t.Fatalf("tampered signature %d verifies alone", i)
						}
					}
					b.Add(k, msg, sig)
				}
				if b.Verify() {
					t.Fatalf("a batch with signature %d tampered verifies", bad)
				}
			}
		})
	}
}

// torsion is a point of order 4 (y = 0): [8]T = 0, T ≠ 0.
func torsion(t *testing.T) *edwards25519.Point {
	t.Helper()
	p, err := new(edwards25519.Point).SetBytes(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	if p.Equal(edwards25519.NewIdentityPoint()) == 1 {
		t.Fatal("torsion point is the identity")
	}
	if new(edwards25519.Point).MultByCofactor(p).Equal(edwards25519.NewIdentityPoint()) != 1 {
		t.Fatal("torsion point is not of small order")
	}
	return p
}

// craft signs msg with R = [r]B + rT and A = A + aT: a signature that only
// the cofactored rule accepts, as an attacker who wants nodes to disagree
// would make it.
func craft(t *testing.T, seed byte, msg []byte, rT, aT bool) (*Key, []byte) {
	t.Helper()
	s := make([]byte, ed25519.SeedSize)
	s[0] = seed
	h := sha512.Sum512(s)
	a, err := edwards25519.NewScalar().SetBytesWithClamping(h[:32])
	if err != nil {
		t.Fatal(err)
	}
	T := torsion(t)
	A := new(edwards25519.Point).ScalarBaseMult(a)
	if aT {
		A.Add(A, T)
	}
	rh := sha512.Sum512(append([]byte("nonce"), msg...))
	r, _ := edwards25519.NewScalar().SetUniformBytes(rh[:])
	R := new(edwards25519.Point).ScalarBaseMult(r)
	if rT {
		R.Add(R, T)
	}
	kh := sha512.New()
	kh.Write(R.Bytes())
	kh.Write(A.Bytes())
	kh.Write(msg)
	k, _ := edwards25519.NewScalar().SetUniformBytes(kh.Sum(nil))
	sc := edwards25519.NewScalar().MultiplyAdd(k, a, r)
	sig := append(R.Bytes(), sc.Bytes()...)
	key, err := ParseKey(A.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return key, sig
}

// TestSmallOrderComponentsAgree: signatures with small-order components
// fail the standard library's cofactorless check and pass this rule, alone
// and in a batch alike, so a holder's batch and a judge's single check
// never disagree.
func TestSmallOrderComponentsAgree(t *testing.T) {
	for _, c := range []struct {
		name   string
		rT, aT bool
	}{{"R", true, false}, {"A", false, true}, {"both", true, true}} {
		t.Run(c.name, func(t *testing.T) {
			msg := []byte("crafted " + c.name)
			key, sig := craft(t, 9, msg, c.rT, c.aT)
			if c.rT && ed25519.Verify(key.Bytes(), msg, sig) {
				t.Fatal("the standard library accepts a signature whose R has a small-order component")
			}
			if !Verify(key, msg, sig) {
				t.Fatal("the cofactored rule rejects it alone")
			}
			var b Batch
			priv, k := newKey(t, 1)
			b.Add(k, []byte("honest"), ed25519.Sign(priv, []byte("honest")))
			b.Add(key, msg, sig)
			if !b.Verify() {
				t.Fatal("a batch rejects what a single check accepts")
			}
			// And tampered, both reject it.
			bad := append([]byte(nil), sig...)
			bad[33] ^= 2
			b.Add(k, []byte("honest"), ed25519.Sign(priv, []byte("honest")))
			b.Add(key, msg, bad)
			if Verify(key, msg, bad) || b.Verify() {
				t.Fatal("a tampered crafted signature verifies")
			}
		})
	}
}

func TestParseKey(t *testing.T) {
	if _, err := ParseKey(make([]byte, 31)); err == nil {
		t.Fatal("a 31-byte key parsed")
	}
	// y = 2 is not the y of a curve point.
	bad := make([]byte, 32)
	bad[0] = 2
	if _, err := ParseKey(bad); err == nil {
		t.Fatal("a non-point parsed")
	}
}

func FuzzVerifyAgrees(f *testing.F) {
	priv := ed25519.NewKeyFromSeed(make([]byte, 32))
	f.Add([]byte("m"), ed25519.Sign(priv, []byte("m")))
	f.Add([]byte("m"), make([]byte, 64))
	k, _ := ParseKey(priv.Public().(ed25519.PublicKey))
	f.Fuzz(func(t *testing.T, msg, sig []byte) {
		one := Verify(k, msg, sig)
		var b Batch
		b.Add(k, []byte("m"), ed25519.Sign(priv, []byte("m")))
		b.Add(k, msg, sig)
		if b.Verify() != one {
			t.Fatalf("batch and single disagree on %x", sig)
		}
		if ed25519.Verify(priv.Public().(ed25519.PublicKey), msg, sig) && !one {
			t.Fatalf("the standard library accepts %x and the rule does not", sig)
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	priv, k := newKey(b, 1)
	msg := []byte("a receipt's signing bytes, about this long ..................")
	sig := ed25519.Sign(priv, msg)
	b.Run("stdlib", func(b *testing.B) {
		pub := priv.Public().(ed25519.PublicKey)
		for b.Loop() {
			ed25519.Verify(pub, msg, sig)
		}
	})
	b.Run("single", func(b *testing.B) {
		for b.Loop() {
			Verify(k, msg, sig)
		}
	})
	for _, n := range []int{8, 32, 128} {
		b.Run(fmt.Sprintf("batch%d_of_7_keys", n), func(b *testing.B) {
			keys := make([]*Key, 7)
			privs := make([]ed25519.PrivateKey, 7)
			for i := range keys {
				privs[i], keys[i] = newKey(b, byte(i))
			}
			sigs := make([][]byte, n)
			for i := range sigs {
				sigs[i] = ed25519.Sign(privs[i%7], msg)
			}
			var bt Batch
			for b.Loop() {
				for i := range sigs {
					bt.Add(keys[i%7], msg, sigs[i])
				}
				if !bt.Verify() {
					b.Fatal("batch failed")
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/sig")
		})
	}
}
