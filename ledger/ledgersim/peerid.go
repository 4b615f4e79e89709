package ledgersim

import "crypto/ed25519"

// peerID returns the libp2p peer ID of an Ed25519 public key as libp2p
// spells it ("12D3KooW…", 52 characters), so that records have their real
// sizes: base58btc of the identity multihash of the key's protobuf form
// (KeyType Ed25519 = 1, 32 bytes of key).
func peerID(pub ed25519.PublicKey) string {
	b := make([]byte, 0, 38)
	b = append(b, 0x00, 36, 0x08, 0x01, 0x12, 32) // identity multihash of 36 bytes; protobuf fields 1 and 2
	b = append(b, pub...)
	return base58(b)
}

const base58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

// base58 encodes b in Bitcoin's base58 alphabet (base58btc).
func base58(b []byte) string {
	zeros := 0
	for zeros < len(b) && b[zeros] == 0 {
		zeros++
	}
	var digits []byte // little-endian base-58 digits
	for _, c := range b[zeros:] {
		carry := int(c)
		for i := range digits {
			carry += int(digits[i]) << 8
			digits[i] = byte(carry % 58)
			carry /= 58
		}
		for carry > 0 {
			digits = append(digits, byte(carry%58))
			carry /= 58
		}
	}
	out := make([]byte, 0, zeros+len(digits))
	for range zeros {
		out = append(out, '1')
	}
	for i := len(digits) - 1; i >= 0; i-- {
		out = append(out, base58Alphabet[digits[i]])
	}
	return string(out)
}
