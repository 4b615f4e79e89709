package mesh

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestVerifiedCapacity: a record read through the memory of verified records
// reads as OpenCapacity reads it, the first time and after; it still
// expires; what fails to verify is never remembered; a copy handed out
// shares nothing with the memory; the memory stays bounded.
func TestVerifiedCapacity(t *testing.T) {
	k := newCapTestKey(t, 1)
	b := mustSeal(t, capTestRecord(k.id, 7), k.priv)
	want, err := OpenCapacity(b, capTestNow)
	if err != nil {
		t.Fatal(err)
	}
	var v verifiedCapacity
	for i := range 2 {
		got, err := v.open(b, capTestNow)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("read %d: %+v, %v; want %+v", i+1, got, err, want)
		}
		got.GPUs[0].Model, got.Executors[0], got.CPU.Flags[0] = "changed", "changed", "changed"
	}
	if len(v.recs) != 1 {
		t.Fatalf("%d records remembered, want 1", len(v.recs))
	}
	if _, err := v.open(b, capTestNow.Add(2*time.Hour)); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("an expired record read from memory: %v", err)
	}
	bad := append([]byte(nil), b...)
	bad[len(bad)-1] ^= 1 // the signature's last byte
	for range 2 {
		if _, err := v.open(bad, capTestNow); err == nil {
			t.Fatal("a record with a broken signature verified")
		}
	}
	if len(v.recs) != 1 {
		t.Fatalf("%d records remembered after a failure, want 1", len(v.recs))
	}
	for i := range verifiedMax + 10 {
		if _, err := v.open(mustSeal(t, capTestRecord(k.id, uint64(100+i)), k.priv), capTestNow); err != nil {
			t.Fatal(err)
		}
	}
	if len(v.recs) > verifiedMax {
		t.Fatalf("%d records remembered, more than %d", len(v.recs), verifiedMax)
	}
}
