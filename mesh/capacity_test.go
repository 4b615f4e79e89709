package mesh

import (
	"bytes"
	"encoding/json"
	"errors"
	mrand "math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/computemesh/computemesh/job"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	lprecord "github.com/libp2p/go-libp2p/core/record"
)

// capTestNow is the fixed clock of these tests.
var capTestNow = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func capTestClock() time.Time { return capTestNow }

// capTestKey is a deterministic Ed25519 key and its peer ID.
type capTestKey struct {
	priv crypto.PrivKey
	id   peer.ID
}

func newCapTestKey(t testing.TB, seed uint64) capTestKey {
	t.Helper()
	r := mrand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), byte(seed >> 24), 'c', 'a', 'p'})
	priv, _, err := crypto.GenerateEd25519Key(r)
	if err != nil {
		t.Fatalf("GenerateEd25519Key: %v", err)
	}
	id, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		t.Fatalf("IDFromPrivateKey: %v", err)
	}
	return capTestKey{priv, id}
}

// capTestRecord returns a valid record of peer p that expires an hour after
// capTestNow.
func capTestRecord(p peer.ID, seq uint64) *job.Capacity {
	return &job.Capacity{
		V:         job.Version,
		Peer:      p.String(),
		Network:   "test",
		Seq:       seq,
		ExpiresMS: capTestNow.Add(time.Hour).UnixMilli(),
		Region:    "eu-west",
		Executors: []string{"wasm"},
		Rates:     job.Rates{CPUHour: 5, GPUHour: 50},
		CPU:       job.CPUInfo{Vendor: "GenuineIntel", Model: "Xeon", Cores: 8, Threads: 16, Flags: []string{"avx2", "sse4_2"}},
		Memory:    32 << 30,
		Storage:   100 << 30,
		GPUs:      []job.GPU{{Vendor: "nvidia", Model: "NVIDIA H100 80GB HBM3", VRAMBytes: 81559 << 20, Driver: "550.54", PCI: "0000:01:00.0"}},
		Total:     job.Resources{CPUMillis: 8000, MemoryBytes: 32 << 30, GPUs: 1},
		Free:      job.Resources{CPUMillis: 4000, MemoryBytes: 16 << 30, GPUs: 1},
		Score:     job.Score{HashMBps: 812.5, GFLOPS: 33.25},
		OS:        "linux",
		Arch:      "amd64",
	}
}

func mustSeal(t testing.TB, c *job.Capacity, k crypto.PrivKey) []byte {
	t.Helper()
	b, err := SealCapacity(c, k)
	if err != nil {
		t.Fatalf("SealCapacity: %v", err)
	}
	return b
}

// sealRaw signs rec without SealCapacity's size check.
func sealRaw(t testing.TB, rec lprecord.Record, k crypto.PrivKey) []byte {
	t.Helper()
	env, err := lprecord.Seal(rec, k)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	b, err := env.Marshal()
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	return b
}

// oversized returns a record of p whose sealed form exceeds the limit
// while every field stays within Validate's limits.
func oversized(p peer.ID) *job.Capacity {
	c := capTestRecord(p, 1)
	c.CPU.Flags = make([]string, 64)
	for i := range c.CPU.Flags {
		c.CPU.Flags[i] = strings.Repeat("f", 200)
	}
	return c
}

// otherRecord is a record sealed under another domain or codec.
type otherRecord struct {
	domain string
	codec  []byte
	body   []byte
}

func (r *otherRecord) Domain() string                 { return r.domain }
func (r *otherRecord) Codec() []byte                  { return r.codec }
func (r *otherRecord) MarshalRecord() ([]byte, error) { return r.body, nil }
func (r *otherRecord) UnmarshalRecord(b []byte) error { r.body = b; return nil }

func TestSealOpenCapacityRoundTrip(t *testing.T) {
	k := newCapTestKey(t, 1)
	tests := []struct {
		name string
		c    *job.Capacity
	}{
		{"full", capTestRecord(k.id, 7)},
		{"minimal", &job.Capacity{V: job.Version, Peer: k.id.String(), Network: "test", ExpiresMS: capTestNow.UnixMilli()}},
		{"simulated", func() *job.Capacity { c := capTestRecord(k.id, 1); c.Simulated = true; c.GPUs = nil; return c }()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := mustSeal(t, tt.c, k.priv)
			if len(b) > job.MaxCapacityRecord {
				t.Fatalf("sealed record of %d bytes, limit %d", len(b), job.MaxCapacityRecord)
			}
			got, err := OpenCapacity(b, capTestNow)
			if err != nil {
				t.Fatalf("OpenCapacity: %v", err)
			}
			if !reflect.DeepEqual(got, tt.c) {
				t.Fatalf("OpenCapacity = %+v\nwant %+v", got, tt.c)
			}
		})
	}
}

func TestSealCapacityTooLarge(t *testing.T) {
	k := newCapTestKey(t, 1)
	c := oversized(k.id)
	if err := c.Validate(); err != nil {
		t.Fatalf("oversized record is invalid (%v): the test needs a valid one", err)
	}
	_, err := SealCapacity(c, k.priv)
	if err == nil || !strings.Contains(err.Error(), "exceeds the limit") {
		t.Fatalf("SealCapacity(%d flag bytes) = %v, want an error about the limit", 64*200, err)
	}
}

func TestOpenCapacity(t *testing.T) {
	victim, attacker := newCapTestKey(t, 1), newCapTestKey(t, 2)
	valid := mustSeal(t, capTestRecord(victim.id, 1), victim.priv)
	forged := mustSeal(t, capTestRecord(victim.id, 1), attacker.priv)
	big := sealRaw(t, &capacityRecord{*oversized(victim.id)}, victim.priv)
	if len(big) <= job.MaxCapacityRecord {
		t.Fatalf("oversized record of %d bytes is within the limit", len(big))
	}
	tampered := bytes.Clone(valid)
	i := bytes.Index(tampered, []byte(`"eu-west"`))
	if i < 0 {
		t.Fatal("region not found in the sealed record")
	}
	tampered[i+1] = 'E' // "Eu-west"
	badVersion := capTestRecord(victim.id, 1)
	badVersion.V = job.Version + 1
	payload, err := json.Marshal(capTestRecord(victim.id, 1))
	if err != nil {
		t.Fatal(err)
	}
	unknownField := append(bytes.TrimSuffix(bytes.Clone(payload), []byte("}")), `,"extra":1}`...)
	exp := capTestRecord(victim.id, 1).ExpiresMS

	tests := []struct {
		name    string
		b       []byte
		now     time.Time
		wantErr string // "" for valid
	}{
		{"valid", valid, capTestNow, ""},
		{"valid at expiry", valid, time.UnixMilli(exp), ""},
		{"expired a millisecond after", valid, time.UnixMilli(exp + 1), "expired"},
		{"expired long ago", valid, capTestNow.Add(24 * time.Hour), "expired"},
		{"living longer than any record may", valid, time.UnixMilli(exp).Add(-job.MaxRecordTTL - 2*time.Minute), "more than 24h0m0s from now"},
		{"signed by another key", forged, capTestNow, "is signed by " + attacker.id.String()},
		{"tampered", tampered, capTestNow, "capacity record"},
		{"oversized", big, capTestNow, "exceeds the limit"},
		{"oversized by one byte", append(bytes.Clone(valid), make([]byte, job.MaxCapacityRecord+1-len(valid))...), capTestNow, "exceeds the limit"},
		{"invalid fields", mustSeal(t, badVersion, victim.priv), capTestNow, "v: version"},
		{"unknown field", sealRaw(t, &otherRecord{capacityDomain, capacityCodec, unknownField}, victim.priv), capTestNow, "unknown field"},
		{"trailing data in payload", sealRaw(t, &otherRecord{capacityDomain, capacityCodec, append(bytes.Clone(payload), "{}"...)}, victim.priv), capTestNow, "trailing data"},
		{"other domain", sealRaw(t, &otherRecord{"libp2p-peer-record", capacityCodec, payload}, victim.priv), capTestNow, "capacity record"},
		{"empty", nil, capTestNow, "capacity record"},
		{"garbage", []byte("not a signed envelope"), capTestNow, "capacity record"},
		{"truncated", valid[:len(valid)/2], capTestNow, "capacity record"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := OpenCapacity(tt.b, tt.now)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("OpenCapacity: %v", err)
				}
				if c.Peer != victim.id.String() {
					t.Fatalf("OpenCapacity: peer %s, want %s", c.Peer, victim.id)
				}
				return
			}
			if err == nil {
				t.Fatalf("OpenCapacity = %+v, want an error containing %q", c, tt.wantErr)
			}
			if c != nil {
				t.Errorf("OpenCapacity returned a record with the error %v", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("OpenCapacity: %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

// TestOpenCapacityForgedNamesBoth checks that a record naming the victim but
// signed by the attacker is refused with both peers named.
func TestOpenCapacityForgedNamesBoth(t *testing.T) {
	victim, attacker := newCapTestKey(t, 1), newCapTestKey(t, 2)
	forged := mustSeal(t, capTestRecord(victim.id, 99), attacker.priv)
	v := capacityValidator{network: "test", now: capTestClock}
	err := v.Validate(CapacityKey(victim.id), forged)
	if err == nil {
		t.Fatal("Validate accepted a record signed by another key")
	}
	for _, p := range []peer.ID{victim.id, attacker.id} {
		if !strings.Contains(err.Error(), p.String()) {
			t.Errorf("Validate: %q does not name %s", err, p)
		}
	}
}

// TestOpenCapacityPayloadType records that the envelope's payload type is
// not checked: a record signed under the capacity domain with another
// codec is accepted. The domain keeps other signatures out, so this is
// hardening, not a hole.
func TestOpenCapacityPayloadType(t *testing.T) {
	k := newCapTestKey(t, 1)
	payload, err := json.Marshal(capTestRecord(k.id, 1))
	if err != nil {
		t.Fatal(err)
	}
	b := sealRaw(t, &otherRecord{capacityDomain, []byte("/other/1"), payload}, k.priv)
	if _, err := OpenCapacity(b, capTestNow); err == nil {
	}
}

func TestCapacityKey(t *testing.T) {
	k := newCapTestKey(t, 1)
	key := CapacityKey(k.id)
	if want := "/cmcap/" + string(k.id); key != want {
		t.Fatalf("CapacityKey = %q, want %q", key, want)
	}
}

func TestCapacityValidatorValidate(t *testing.T) {
	owner, other := newCapTestKey(t, 1), newCapTestKey(t, 2)
	valid := mustSeal(t, capTestRecord(owner.id, 1), owner.priv)
	expired := capTestRecord(owner.id, 1)
	expired.ExpiresMS = capTestNow.Add(-time.Millisecond).UnixMilli()
	otherNet := capTestRecord(owner.id, 1)
	otherNet.Network = "main"
	big := sealRaw(t, &capacityRecord{*oversized(owner.id)}, owner.priv)

	tests := []struct {
		name    string
		key     string
		value   []byte
		wantErr string // "" for valid
	}{
		{"valid", CapacityKey(owner.id), valid, ""},
		{"signed by another key", CapacityKey(owner.id), mustSeal(t, capTestRecord(owner.id, 1), other.priv), "signed by"},
		{"stored under another peer's key", CapacityKey(other.id), valid, "stored under the key of " + other.id.String()},
		{"expired", CapacityKey(owner.id), mustSeal(t, expired, owner.priv), "expired"},
		{"wrong network", CapacityKey(owner.id), mustSeal(t, otherNet, owner.priv), `network "main", not "test"`},
		{"oversized", CapacityKey(owner.id), big, "exceeds the limit"},
		{"garbage", CapacityKey(owner.id), []byte{0xde, 0xad, 0xbe, 0xef}, "capacity record"},
		{"empty value", CapacityKey(owner.id), nil, "capacity record"},
		{"other namespace", "/pk/" + string(owner.id), valid, errNotCapacityKey.Error()},
		{"namespace prefix", "/cmcapx/" + string(owner.id), valid, errNotCapacityKey.Error()},
		{"no namespace", string(owner.id), valid, errNotCapacityKey.Error()},
		{"empty key", "", valid, errNotCapacityKey.Error()},
		{"namespace only", "/cmcap", valid, errNotCapacityKey.Error()},
		{"empty peer", "/cmcap/", valid, "capacity key"},
		{"not a peer ID", "/cmcap/not-a-peer", valid, "capacity key"},
		// The text form of an ID parses as the bytes of some other ID.
		{"peer ID as text", "/cmcap/" + owner.id.String(), valid, "stored under the key of"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := capacityValidator{network: "test", now: capTestClock}
			err := v.Validate(tt.key, tt.value)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate = nil, want an error containing %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate: %q, want it to contain %q", err, tt.wantErr)
			}
			// The gossip validator counts a forged record by this mark.
			forged := strings.Contains(tt.name, "another") || tt.name == "peer ID as text"
			if errors.Is(err, errForged) != forged {
				t.Fatalf("Validate: %q: marked forged %v, want %v", err, !forged, forged)
			}
		})
	}
}

// TestCapacityValidatorSlashInPeerID checks keys whose peer ID bytes hold
// a '/': the namespace ends at the first slash, the rest is the ID.
func TestCapacityValidatorSlashInPeerID(t *testing.T) {
	v := capacityValidator{network: "test", now: capTestClock}
	found := 0
	for seed := uint64(100); seed < 400 && found < 3; seed++ {
		k := newCapTestKey(t, seed)
		if !strings.Contains(string(k.id), "/") {
			continue
		}
		found++
		b := mustSeal(t, capTestRecord(k.id, 1), k.priv)
		if err := v.Validate(CapacityKey(k.id), b); err != nil {
			t.Errorf("peer %s (ID bytes %x): Validate: %v", k.id, []byte(k.id), err)
		}
	}
	if found == 0 {
		t.Fatal("no peer ID with a '/' byte among 300 keys")
	}
}

func TestCapacityValidatorSelect(t *testing.T) {
	owner, other := newCapTestKey(t, 1), newCapTestKey(t, 2)
	rec := func(seq uint64, mod func(c *job.Capacity)) []byte {
		c := capTestRecord(owner.id, seq)
		if mod != nil {
			mod(c)
		}
		return mustSeal(t, c, owner.priv)
	}
	expired := func(c *job.Capacity) { c.ExpiresMS = capTestNow.UnixMilli() - 1 }
	otherNet := func(c *job.Capacity) { c.Network = "main" }
	forged := mustSeal(t, capTestRecord(owner.id, 1000), other.priv)
	misfiled := mustSeal(t, capTestRecord(other.id, 1000), other.priv)
	garbage := []byte("garbage")
	// Distinguishes equal-seq records by their region.
	region := func(r string) func(c *job.Capacity) { return func(c *job.Capacity) { c.Region = r } }

	tests := []struct {
		name    string
		key     string
		values  [][]byte
		want    int
		wantErr bool
	}{
		{"one", CapacityKey(owner.id), [][]byte{rec(1, nil)}, 0, false},
		{"seq zero", CapacityKey(owner.id), [][]byte{rec(0, nil)}, 0, false},
		{"highest last", CapacityKey(owner.id), [][]byte{rec(1, nil), rec(2, nil), rec(3, nil)}, 2, false},
		{"highest first", CapacityKey(owner.id), [][]byte{rec(3, nil), rec(2, nil), rec(1, nil)}, 0, false},
		{"highest middle", CapacityKey(owner.id), [][]byte{rec(1, nil), rec(5, nil), rec(3, nil)}, 1, false},
		{"max seq", CapacityKey(owner.id), [][]byte{rec(1, nil), rec(^uint64(0), nil)}, 1, false},
		{"skips invalid with higher seqs", CapacityKey(owner.id), [][]byte{
			garbage,
			rec(9, expired),
			rec(2, nil),
			rec(10, otherNet),
			forged,
			misfiled,
			rec(1, nil),
		}, 2, false},
		{"seq zero after invalid", CapacityKey(owner.id), [][]byte{garbage, forged, rec(0, nil)}, 2, false},
		{"equal seqs: first", CapacityKey(owner.id), [][]byte{rec(4, region("a")), rec(4, region("b"))}, 0, false},
		{"equal seqs after lower: first", CapacityKey(owner.id), [][]byte{rec(1, nil), rec(4, region("a")), rec(4, region("b")), rec(4, region("c"))}, 1, false},
		{"equal seqs after invalid: first valid", CapacityKey(owner.id), [][]byte{rec(4, expired), rec(4, region("a")), rec(4, region("b"))}, 1, false},
		{"none valid", CapacityKey(owner.id), [][]byte{garbage, rec(9, expired), forged, misfiled, rec(3, otherNet)}, 0, true},
		{"no values", CapacityKey(owner.id), nil, 0, true},
		{"other namespace", "/pk/" + string(owner.id), [][]byte{rec(1, nil)}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := capacityValidator{network: "test", now: capTestClock}
			got, err := v.Select(tt.key, tt.values)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Select = %d, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Select: %v", err)
			}
			if got != tt.want {
				t.Fatalf("Select = %d, want %d", got, tt.want)
			}
		})
	}
}

// TestCapacityValidatorClock checks that the validator reads its clock on
// every call: a record valid now is refused once the clock passes its
// expiry.
func TestCapacityValidatorClock(t *testing.T) {
	k := newCapTestKey(t, 1)
	c := capTestRecord(k.id, 1)
	b := mustSeal(t, c, k.priv)
	now := capTestNow
	v := capacityValidator{network: "test", now: func() time.Time { return now }}
	if err := v.Validate(CapacityKey(k.id), b); err != nil {
		t.Fatalf("Validate before expiry: %v", err)
	}
	now = time.UnixMilli(c.ExpiresMS + 1)
	if err := v.Validate(CapacityKey(k.id), b); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("Validate after expiry = %v, want an expiry error", err)
	}
	if _, err := v.Select(CapacityKey(k.id), [][]byte{b}); err == nil {
		t.Fatal("Select after expiry chose an expired record")
	}
}

func FuzzOpenCapacity(f *testing.F) {
	k := newCapTestKey(f, 1)
	valid := mustSeal(f, capTestRecord(k.id, 1), k.priv)
	f.Add(valid)
	f.Add(mustSeal(f, &job.Capacity{V: job.Version, Peer: k.id.String(), Network: "test", ExpiresMS: capTestNow.UnixMilli()}, k.priv))
	f.Add([]byte{})
	f.Add([]byte("garbage"))
	f.Add([]byte{0x0a, 0x24, 0x08, 0x01, 0x12, 0x20})
	f.Add(valid[:len(valid)-1])
	v := capacityValidator{network: "test", now: capTestClock}
	key := CapacityKey(k.id)
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := OpenCapacity(b, capTestNow)
		if err != nil {
			if c != nil {
				t.Fatalf("OpenCapacity returned a record with the error %v", err)
			}
		} else {
			if len(b) > job.MaxCapacityRecord {
				t.Fatalf("OpenCapacity accepted %d bytes", len(b))
			}
			if err := c.Validate(); err != nil {
				t.Fatalf("OpenCapacity accepted an invalid record: %v", err)
			}
			if capTestNow.UnixMilli() > c.ExpiresMS {
				t.Fatalf("OpenCapacity accepted an expired record")
			}
		}
		verr := v.Validate(key, b)
		if err != nil && verr == nil {
			t.Fatalf("Validate accepted what OpenCapacity refused (%v)", err)
		}
		if _, serr := v.Select(key, [][]byte{b}); (serr == nil) != (verr == nil) {
			t.Fatalf("Select error %v, Validate error %v", serr, verr)
		}
	})
}
