// Package sigverify checks Ed25519 signatures under one rule, one at a
// time or many at once, so that a batch accepts exactly the signatures
// that single checks accept.
//
// The rule is the cofactored one (as in ZIP 215): the signature's s must
// be canonical (below the group order ℓ), its R and the public key A may
// be any encoding of a curve point, and
//
//	[8]([s]B − [k]A − R) = 0,  k = SHA-512(R ‖ A ‖ message) mod ℓ.
//
// Every signature an honest signer makes passes it, as it passes the
// standard library's check; the two differ only on signatures made with
// small-order components on purpose, which the standard library's
// cofactorless equation rejects. A batch check with random 128-bit
// weights satisfies the same equation for every signature at once: a
// batch of valid signatures always passes, and a batch that passes holds
// an invalid signature with probability at most 2⁻¹²⁸. The ledger's
// holders check a request's receipts as one batch, and every node checks
// ledger signatures with this rule, so that no record is valid at one
// node and invalid at another.
package sigverify
