package job

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

// CodecJSON is the multicodec of canonical JSON documents (job IDs, spec CIDs).
const CodecJSON = 0x0200

// ModuleCID returns the CID of a module: CIDv1, raw codec, sha2-256 of its bytes.
func ModuleCID(module []byte) cid.Cid {
	return sum(cid.Raw, module)
}

// ModuleCIDOf is ModuleCID of what r reads, hashed as it is read (a file
// is not held in memory); n is how many bytes that was.
func ModuleCIDOf(r io.Reader) (c cid.Cid, n int64, err error) {
	h := sha256.New()
	if n, err = io.Copy(h, r); err != nil {
		return cid.Undef, n, err
	}
	m, err := mh.Encode(h.Sum(nil), mh.SHA2_256)
	if err != nil { // sha2-256 is always registered
		panic(fmt.Sprintf("job: sha2-256 multihash: %v", err))
	}
	return cid.NewCidV1(cid.Raw, m), n, nil
}

func sum(codec uint64, b []byte) cid.Cid {
	h, err := mh.Sum(b, mh.SHA2_256, -1)
	if err != nil { // sha2-256 is always registered
		panic(fmt.Sprintf("job: sha2-256 multihash: %v", err))
	}
	return cid.NewCidV1(codec, h)
}

// ParseCID parses a CID string and refuses the empty CID.
func ParseCID(s string) (cid.Cid, error) {
	if s == "" {
		return cid.Undef, fmt.Errorf("missing CID")
	}
	if len(s) > 128 {
		return cid.Undef, fmt.Errorf("CID of %d bytes, limit 128", len(s))
	}
	c, err := cid.Decode(s)
	if err != nil {
		return cid.Undef, fmt.Errorf("invalid CID %q: %w", s, err)
	}
	return c, nil
}

// Canonical returns the canonical encoding of s: JSON with struct fields in
// declaration order and map keys sorted (encoding/json guarantees both).
func (s *Spec) Canonical() []byte {
	b, err := json.Marshal(s)
	if err != nil { // a Spec has no types json cannot encode
		panic(fmt.Sprintf("job: encoding spec: %v", err))
	}
	return b
}

// CID returns the CID of the spec's canonical encoding.
func (s *Spec) CID() cid.Cid { return sum(CodecJSON, s.Canonical()) }

// identity is what a job ID hashes: the spec, who asked, and a nonce, so that
// two submissions of one spec are two jobs.
type identity struct {
	Spec   *Spec  `json:"spec"`
	Client string `json:"client"`
	Nonce  []byte `json:"nonce"`
}

// NewID returns the job ID: the CID of the canonical encoding of spec, the
// client's peer ID and a nonce.
func NewID(s *Spec, client string, nonce []byte) cid.Cid {
	b, err := json.Marshal(identity{Spec: s, Client: client, Nonce: nonce})
	if err != nil {
		panic(fmt.Sprintf("job: encoding job identity: %v", err))
	}
	return sum(CodecJSON, b)
}
