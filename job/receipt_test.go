package job_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/computemesh/computemesh/job"
)

func testReceipt() *job.Receipt {
	return &job.Receipt{
		V: job.Version, Network: "testnet", Job: testBid().Job, Attempt: 1, Payer: testClient, Payee: testProvider,
		Amount: 2_777_778, Seq: 1, TimeMS: 1_700_000_040_000, PayerSig: bytes.Repeat([]byte{1}, 64), PayeeSig: bytes.Repeat([]byte{2}, 64),
	}
}

func testGrant() *job.Grant {
	return &job.Grant{
		V: job.Version, Network: "testnet", To: testClient, Amount: 100 * job.Nano, Nonce: "g-1",
		TimeMS: 1_700_000_000_000, Faucet: "12D3KooWFaucet", Sig: bytes.Repeat([]byte{3}, 64),
	}
}

func testAuthorization() *job.Authorization {
	return &job.Authorization{
		V: job.Version, Network: "testnet", Job: testBid().Job, Attempt: 1, Payer: testClient, Payee: testProvider,
		Max: 2_777_778, ExpiresMS: 1_700_000_100_000, Sig: bytes.Repeat([]byte{4}, 64),
	}
}

func testFraud() *job.FraudProof {
	b := testReceipt()
	b.Payee = "12D3KooWOtherProvider"
	return &job.FraudProof{V: job.Version, A: *testReceipt(), B: *b}
}

// decodeErr encodes v and decodes it into out under limit, returning the error.
func decodeErr(v, out any, limit int) error { return job.Decode(job.Encode(v), limit, out) }

func TestReceiptValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(r *job.Receipt)
		want   string // "" for valid; otherwise a substring of the error
	}{
		{"valid", func(*job.Receipt) {}, ""},
		{"zero amount", func(r *job.Receipt) { r.Amount = 0 }, ""},
		{"max amount", func(r *job.Receipt) { r.Amount = job.MaxAmount }, ""},
		{"version", func(r *job.Receipt) { r.V = 2 }, "v:"},
		{"no network", func(r *job.Receipt) { r.Network = "" }, "network:"},
		{"network chars", func(r *job.Receipt) { r.Network = "a/b" }, "network:"},
		{"bad job", func(r *job.Receipt) { r.Job = "nope" }, "job:"},
		{"non-canonical job", func(r *job.Receipt) { r.Job = strings.ToUpper(r.Job) }, "job:"},
		{"attempt 0", func(r *job.Receipt) { r.Attempt = 0 }, "attempt:"},
		{"attempt too big", func(r *job.Receipt) { r.Attempt = job.MaxAttempt + 1 }, "attempt:"},
		{"no payer", func(r *job.Receipt) { r.Payer = "" }, "payer:"},
		{"payer chars", func(r *job.Receipt) { r.Payer = "12D3 Koo" }, "payer:"},
		{"payer too long", func(r *job.Receipt) { r.Payer = strings.Repeat("a", job.MaxPeerLen+1) }, "payer:"},
		{"no payee", func(r *job.Receipt) { r.Payee = "" }, "payee:"},
		{"self payment", func(r *job.Receipt) { r.Payee = r.Payer }, "payee:"},
		{"negative amount", func(r *job.Receipt) { r.Amount = -1 }, "amount:"},
		{"amount too big", func(r *job.Receipt) { r.Amount = job.MaxAmount + 1 }, "amount:"},
		{"seq 0", func(r *job.Receipt) { r.Seq = 0 }, "seq:"},
		{"seq too big", func(r *job.Receipt) { r.Seq = 1<<62 + 1 }, "seq:"},
		{"time 0", func(r *job.Receipt) { r.TimeMS = 0 }, "time_ms:"},
		{"no payer sig", func(r *job.Receipt) { r.PayerSig = nil }, "payer_sig: missing"},
		{"sig too long", func(r *job.Receipt) { r.PayeeSig = make([]byte, job.MaxSigLen+1) }, "payee_sig:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := testReceipt()
			tt.change(r)
			err := decodeErr(r, new(job.Receipt), job.MaxReceiptSize)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("valid receipt refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestReceiptUnsigned(t *testing.T) {
	r := testReceipt()
	r.PayerSig, r.PayeeSig = nil, nil
	if err := r.ValidateUnsigned(); err != nil {
		t.Fatalf("ValidateUnsigned of an unsigned receipt: %v", err)
	}
	if err := r.Validate(); err == nil {
		t.Fatal("Validate accepted an unsigned receipt")
	}
}

func TestGrantValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(g *job.Grant)
		want   string
	}{
		{"valid", func(*job.Grant) {}, ""},
		{"version", func(g *job.Grant) { g.V = 0 }, "v:"},
		{"network", func(g *job.Grant) { g.Network = strings.Repeat("n", job.MaxNetLen+1) }, "network:"},
		{"no to", func(g *job.Grant) { g.To = "" }, "to:"},
		{"zero amount", func(g *job.Grant) { g.Amount = 0 }, "amount:"},
		{"negative amount", func(g *job.Grant) { g.Amount = -5 }, "amount:"},
		{"amount too big", func(g *job.Grant) { g.Amount = job.MaxAmount + 1 }, "amount:"},
		{"no nonce", func(g *job.Grant) { g.Nonce = "" }, "nonce:"},
		{"nonce chars", func(g *job.Grant) { g.Nonce = "a b" }, "nonce:"},
		{"nonce too long", func(g *job.Grant) { g.Nonce = strings.Repeat("n", job.MaxNonceLen+1) }, "nonce:"},
		{"time", func(g *job.Grant) { g.TimeMS = -1 }, "time_ms:"},
		{"no faucet", func(g *job.Grant) { g.Faucet = "" }, "faucet:"},
		{"no sig", func(g *job.Grant) { g.Sig = nil }, "sig:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := testGrant()
			tt.change(g)
			err := decodeErr(g, new(job.Grant), job.MaxGrantSize)
			if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestAuthorizationValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(a *job.Authorization)
		want   string
	}{
		{"valid", func(*job.Authorization) {}, ""},
		{"version", func(a *job.Authorization) { a.V = 9 }, "v:"},
		{"network", func(a *job.Authorization) { a.Network = "" }, "network:"},
		{"job", func(a *job.Authorization) { a.Job = "x" }, "job:"},
		{"attempt", func(a *job.Authorization) { a.Attempt = -1 }, "attempt:"},
		{"payer", func(a *job.Authorization) { a.Payer = "é" }, "payer:"},
		{"payee", func(a *job.Authorization) { a.Payee = "" }, "payee:"},
		{"self", func(a *job.Authorization) { a.Payee = a.Payer }, "payee:"},
		{"max", func(a *job.Authorization) { a.Max = -1 }, "max:"},
		{"expiry", func(a *job.Authorization) { a.ExpiresMS = 0 }, "expires_ms:"},
		{"sig", func(a *job.Authorization) { a.Sig = nil }, "sig:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := testAuthorization()
			tt.change(a)
			err := decodeErr(a, new(job.Authorization), job.MaxAuthorizationSize)
			if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestFraudProofValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(f *job.FraudProof)
		want   string
	}{
		{"valid", func(*job.FraudProof) {}, ""},
		{"different signatures only", func(f *job.FraudProof) { f.B = f.A; f.B.PayerSig = []byte{9} }, "no conflict"},
		{"same receipt", func(f *job.FraudProof) { f.B = f.A }, "no conflict"},
		{"other payer", func(f *job.FraudProof) { f.B.Payer = "12D3KooWSomeoneElse" }, "b.payer:"},
		{"other seq", func(f *job.FraudProof) { f.B.Seq = 2 }, "b.seq:"},
		{"other network", func(f *job.FraudProof) { f.B.Network = "othernet" }, "b.network:"},
		{"invalid a", func(f *job.FraudProof) { f.A.Amount = -1 }, "a.amount:"},
		{"unsigned b", func(f *job.FraudProof) { f.B.PayerSig = nil }, "b.payer_sig:"},
		{"version", func(f *job.FraudProof) { f.V = 0 }, "v:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := testFraud()
			tt.change(f)
			err := decodeErr(f, new(job.FraudProof), job.MaxFraudProofSize)
			if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestReceiptStrictDecode(t *testing.T) {
	for name, data := range map[string][]byte{
		"unknown field": jsonWith(t, testReceipt(), "extra", 1),
		"trailing data": append(job.Encode(testReceipt()), []byte(" {}")...),
		"oversized":     append(job.Encode(testReceipt()), bytes.Repeat([]byte(" "), job.MaxReceiptSize)...),
		"amount string": jsonWith(t, testReceipt(), "amount", "5"),
		"seq negative":  jsonWith(t, testReceipt(), "seq", -1),
	} {
		t.Run(name, func(t *testing.T) {
			if err := job.Decode(data, job.MaxReceiptSize, new(job.Receipt)); err == nil {
				t.Fatalf("accepted %s", data)
			}
		})
	}
}

// TestSigningBytes: domain-separated, independent of signatures and of the
// wire encoding, different for any change of content.
func TestSigningBytes(t *testing.T) {
	r := testReceipt()
	sb := r.SigningBytes()
	if !bytes.HasPrefix(sb, []byte(job.ReceiptDomain)) {
		t.Fatalf("receipt signing bytes %q lack the domain %q", sb, job.ReceiptDomain)
	}
	if bytes.Contains(sb, []byte("payer_sig")) || bytes.Contains(sb, []byte("payee_sig")) {
		t.Fatalf("signing bytes include a signature field: %s", sb)
	}
	r2 := testReceipt()
	r2.PayerSig, r2.PayeeSig = []byte{7}, nil
	if !bytes.Equal(r2.SigningBytes(), sb) || r2.ID() != r.ID() {
		t.Fatal("signing bytes depend on the signatures")
	}
	// Re-ordered, re-spaced wire bytes decode to the same signed content.
	var again job.Receipt
	if err := job.Decode(jsonWith(t, testReceipt(), "v", 1), job.MaxReceiptSize, &again); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.SigningBytes(), sb) {
		t.Fatal("signing bytes depend on the wire encoding")
	}
	for name, change := range map[string]func(*job.Receipt){
		"amount": func(r *job.Receipt) { r.Amount++ }, "seq": func(r *job.Receipt) { r.Seq++ },
		"payee": func(r *job.Receipt) { r.Payee += "x" }, "time": func(r *job.Receipt) { r.TimeMS++ },
		"attempt": func(r *job.Receipt) { r.Attempt++ }, "network": func(r *job.Receipt) { r.Network += "x" },
	} {
		c := testReceipt()
		change(c)
		if bytes.Equal(c.SigningBytes(), sb) {
			t.Errorf("changing %s leaves the signing bytes unchanged", name)
		}
	}
	g, a := testGrant(), testAuthorization()
	if !bytes.HasPrefix(g.SigningBytes(), []byte(job.GrantDomain)) || bytes.Contains(g.SigningBytes(), []byte(`"sig"`)) {
		t.Fatalf("grant signing bytes %s", g.SigningBytes())
	}
	if !bytes.HasPrefix(a.SigningBytes(), []byte(job.AuthorizationDomain)) || bytes.Contains(a.SigningBytes(), []byte(`"sig"`)) {
		t.Fatalf("authorization signing bytes %s", a.SigningBytes())
	}
}

func FuzzDecodeReceipt(f *testing.F) {
	f.Add(job.Encode(testReceipt()))
	f.Add(jsonWith(f, testReceipt(), "payee_sig", nil))
	f.Add(jsonWith(f, testReceipt(), "amount", -1))
	f.Add([]byte(`{"v":1,"seq":18446744073709551615}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzRoundTrip[job.Receipt](t, data, job.MaxReceiptSize)
		var r job.Receipt
		if job.Decode(data, job.MaxReceiptSize, &r) == nil {
			if r.Payer == r.Payee || r.Amount < 0 || r.Amount > job.MaxAmount || r.Seq == 0 || len(r.PayerSig) == 0 {
				t.Fatalf("accepted an invalid receipt %+v", r)
			}
		}
	})
}

func FuzzDecodeGrant(f *testing.F) {
	f.Add(job.Encode(testGrant()))
	f.Add(jsonWith(f, testGrant(), "amount", 0))
	f.Add(jsonWith(f, testGrant(), "nonce", "a\u0000"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzRoundTrip[job.Grant](t, data, job.MaxGrantSize)
		var g job.Grant
		if job.Decode(data, job.MaxGrantSize, &g) == nil && (g.Amount <= 0 || g.Amount > job.MaxAmount || g.Nonce == "" || len(g.Sig) == 0) {
			t.Fatalf("accepted an invalid grant %+v", g)
		}
	})
}

func FuzzDecodeAuthorization(f *testing.F) {
	f.Add(job.Encode(testAuthorization()))
	f.Add(jsonWith(f, testAuthorization(), "max", 1e300))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzRoundTrip[job.Authorization](t, data, job.MaxAuthorizationSize)
		var a job.Authorization
		if job.Decode(data, job.MaxAuthorizationSize, &a) == nil && (a.Max < 0 || a.Payer == a.Payee || len(a.Sig) == 0) {
			t.Fatalf("accepted an invalid authorization %+v", a)
		}
	})
}

func FuzzDecodeFraudProof(f *testing.F) {
	f.Add(job.Encode(testFraud()))
	same := testFraud()
	same.B = same.A
	f.Add(job.Encode(same))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzRoundTrip[job.FraudProof](t, data, job.MaxFraudProofSize)
		var p job.FraudProof
		if job.Decode(data, job.MaxFraudProofSize, &p) == nil {
			if p.A.Payer != p.B.Payer || p.A.Seq != p.B.Seq || bytes.Equal(p.A.SigningBytes(), p.B.SigningBytes()) {
				t.Fatalf("accepted a fraud proof without a conflict: %+v", p)
			}
		}
	})
}
