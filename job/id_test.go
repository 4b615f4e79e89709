package job_test

import (
	"bytes"
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/computemesh/computemesh/job"
	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

// checkCID asserts that c is a CIDv1 with codec and a sha2-256 multihash of
// content.
func checkCID(t *testing.T, c cid.Cid, codec uint64, content []byte) {
	t.Helper()
	if !c.Defined() {
		t.Fatal("undefined CID")
	}
	if c.Version() != 1 {
		t.Errorf("CID %s: version %d, want 1", c, c.Version())
	}
	if c.Type() != codec {
		t.Errorf("CID %s: codec %#x, want %#x", c, c.Type(), codec)
	}
	dec, err := mh.Decode(c.Hash())
	if err != nil {
		t.Fatalf("CID %s: multihash: %v", c, err)
	}
	if dec.Code != mh.SHA2_256 {
		t.Errorf("CID %s: hash function %#x, want sha2-256 (%#x)", c, dec.Code, mh.SHA2_256)
	}
	if want := sha256.Sum256(content); !bytes.Equal(dec.Digest, want[:]) {
		t.Errorf("CID %s: digest %x, want sha256 %x", c, dec.Digest, want)
	}
	back, err := job.ParseCID(c.String())
	if err != nil || !back.Equals(c) {
		t.Errorf("ParseCID(%s) = %v, %v", c, back, err)
	}
}

func TestModuleCID(t *testing.T) {
	for _, m := range [][]byte{nil, []byte("\x00asm\x01\x00\x00\x00"), bytes.Repeat([]byte{7}, 1<<16)} {
		t.Run(job.ModuleCID(m).String(), func(t *testing.T) {
			c := job.ModuleCID(m)
			checkCID(t, c, cid.Raw, m)
			if !strings.HasPrefix(c.String(), "bafkrei") { // base32, v1, raw, sha2-256
				t.Errorf("ModuleCID string %s lacks the CIDv1 raw sha2-256 prefix bafkrei", c)
			}
		})
	}
	if job.ModuleCID([]byte("a")).Equals(job.ModuleCID([]byte("b"))) {
		t.Fatal("different modules have one CID")
	}
}

func TestSpecCID(t *testing.T) {
	s := testSpec()
	checkCID(t, s.CID(), job.CodecJSON, s.Canonical())
	if job.CodecJSON != 0x0200 {
		t.Fatalf("CodecJSON = %#x, want 0x0200 (the json multicodec)", job.CodecJSON)
	}
	s2 := testSpec()
	s2.Args = []string{"moon"}
	if s.CID().Equals(s2.CID()) {
		t.Fatal("specs with different args have one CID")
	}
}

func TestCanonical(t *testing.T) {
	s := testSpec()
	s.Env = map[string]string{"ZED": "1", "ALPHA": "2", "MID": "3"}
	a, b := s.Canonical(), s.Canonical()
	if !bytes.Equal(a, b) {
		t.Fatalf("Canonical is not deterministic:\n%s\n%s", a, b)
	}
	ia, im, iz := bytes.Index(a, []byte(`"ALPHA"`)), bytes.Index(a, []byte(`"MID"`)), bytes.Index(a, []byte(`"ZED"`))
	if ia < 0 || !(ia < im && im < iz) {
		t.Fatalf("env keys are not sorted in %s", a)
	}
	if !bytes.HasPrefix(a, []byte(`{"executor":"wasm","module":"`)) {
		t.Fatalf("fields are not in declaration order: %s", a)
	}
	// Empty and absent optional fields encode the same, so they hash the same.
	e1, e2 := testSpec(), testSpec()
	e1.Args, e1.Env, e1.Stdin = nil, nil, nil
	e2.Args, e2.Env, e2.Stdin = []string{}, map[string]string{}, []byte{}
	if !bytes.Equal(e1.Canonical(), e2.Canonical()) {
		t.Fatalf("nil and empty optional fields encode differently:\n%s\n%s", e1.Canonical(), e2.Canonical())
	}
}

func TestNewID(t *testing.T) {
	const client = "12D3KooWClient"
	nonce := []byte("0123456789abcdef")
	base := job.NewID(testSpec(), client, nonce)

	t.Run("is a CIDv1 json sha2-256", func(t *testing.T) {
		if base.Version() != 1 || base.Type() != 0x0200 {
			t.Fatalf("NewID = %s: version %d codec %#x, want CIDv1 codec 0x0200", base, base.Version(), base.Type())
		}
		dec, err := mh.Decode(base.Hash())
		if err != nil || dec.Code != mh.SHA2_256 || len(dec.Digest) != 32 {
			t.Fatalf("NewID multihash = %+v, %v; want sha2-256", dec, err)
		}
	})

	t.Run("same inputs same ID", func(t *testing.T) {
		again := job.NewID(testSpec(), client, append([]byte(nil), nonce...))
		if !again.Equals(base) {
			t.Fatalf("NewID is not deterministic: %s then %s", base, again)
		}
	})

	different := []struct {
		name   string
		spec   func() *job.Spec
		client string
		nonce  []byte
	}{
		{"other nonce", testSpec, client, []byte("0123456789abcdeF")},
		{"empty nonce", testSpec, client, nil},
		{"other client", testSpec, "12D3KooWOther", nonce},
		{"other args", func() *job.Spec { s := testSpec(); s.Args = []string{"moon"}; return s }, client, nonce},
		{"other env", func() *job.Spec { s := testSpec(); s.Env["X"] = "1"; return s }, client, nonce},
		{"other stdin", func() *job.Spec { s := testSpec(); s.Stdin = []byte("other"); return s }, client, nonce},
		{"other resources", func() *job.Spec { s := testSpec(); s.Resources.CPUMillis = 2000; return s }, client, nonce},
		{"other timeout", func() *job.Spec { s := testSpec(); s.TimeoutMS++; return s }, client, nonce},
		{"other module", func() *job.Spec { s := testSpec(); s.Module = job.ModuleCID([]byte("x")).String(); return s }, client, nonce},
	}
	for _, tt := range different {
		t.Run(tt.name, func(t *testing.T) {
			if id := job.NewID(tt.spec(), tt.client, tt.nonce); id.Equals(base) {
				t.Fatalf("NewID with %s is the same ID %s", tt.name, id)
			}
		})
	}
}

func TestParseCID(t *testing.T) {
	valid := job.ModuleCID([]byte("m")).String()
	tests := []struct {
		name    string
		in      string
		wantErr string
	}{
		{"module CID", valid, ""},
		{"spec CID", testSpec().CID().String(), ""},
		{"empty", "", "missing CID"},
		{"garbage", "hello", "invalid CID"},
		{"truncated", valid[:len(valid)-4], "invalid CID"},
		{"too long", "b" + strings.Repeat("a", 128), "limit 128"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := job.ParseCID(tt.in)
			if tt.wantErr == "" {
				if err != nil || c.String() != tt.in {
					t.Fatalf("ParseCID(%q) = %s, %v", tt.in, c, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ParseCID(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
			}
			if c.Defined() {
				t.Fatalf("ParseCID(%q) returned a defined CID %s with an error", tt.in, c)
			}
		})
	}
}

// ModuleCIDOf, streaming, gives ModuleCID's CID.
func TestModuleCIDOf(t *testing.T) {
	for _, n := range []int{0, 7, 32 << 10, 100_003} {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i * 7)
		}
		c, size, err := job.ModuleCIDOf(bytes.NewReader(b))
		if err != nil || size != int64(n) || c != job.ModuleCID(b) {
			t.Fatalf("%d bytes: ModuleCIDOf = %s, %d, %v; want %s", n, c, size, err, job.ModuleCID(b))
		}
	}
}
