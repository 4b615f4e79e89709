// Package sleeper builds the sleeper example module: a hand-assembled WASI
// module that sleeps for a given time and exits 0. Tests and the testnet use
// it for jobs that must still be running when a provider is killed.
package sleeper

import (
	"encoding/binary"
	"time"
)

// Module returns a hand-assembled WASI module (211 bytes) that
// sleeps for d through poll_oneoff with one relative clock subscription,
// then exits 0. Unlike the 2.6 MB Go guest, it compiles at once, also
// under the race detector. Its text form:
//
//	(module
//	  (import "wasi_snapshot_preview1" "poll_oneoff"
//	    (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
//	  (memory 1)
//	  (export "memory" (memory 0))
//	  (data (i32.const 0) "<48-byte subscription: clock, relative, timeout d>")
//	  (func (export "_start")
//	    (drop (call $poll_oneoff (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 128)))))
func Module(d time.Duration) []byte {
	section := func(id byte, content ...byte) []byte {
		return append([]byte{id, byte(len(content))}, content...)
	}
	name := func(s string) []byte { return append([]byte{byte(len(s))}, s...) }
	// subscription: userdata u64 @0, tag u8 @8 (0: clock), clock id u32
	// @16, timeout u64 @24 (ns), precision u64 @32, flags u16 @40 (0:
	// relative).
	sub := make([]byte, 48)
	binary.LittleEndian.PutUint32(sub[16:], 1) // monotonic
	binary.LittleEndian.PutUint64(sub[24:], uint64(d))
	m := []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}
	m = append(m, section(0x01, 0x02, 0x60, 0x04, 0x7f, 0x7f, 0x7f, 0x7f, 0x01, 0x7f, 0x60, 0x00, 0x00)...) // types
	imp := append([]byte{0x01}, name("wasi_snapshot_preview1")...)
	imp = append(append(imp, name("poll_oneoff")...), 0x00, 0x00)
	m = append(m, section(0x02, imp...)...)           // import func 0: type 0
	m = append(m, section(0x03, 0x01, 0x01)...)       // func 1: type 1
	m = append(m, section(0x05, 0x01, 0x00, 0x01)...) // memory: 1 page
	exp := append(append([]byte{0x02}, name("memory")...), 0x02, 0x00)
	exp = append(append(exp, name("_start")...), 0x00, 0x01)
	m = append(m, section(0x07, exp...)...)
	body := []byte{0x00, // no locals
		0x41, 0x00, 0x41, 0xc0, 0x00, 0x41, 0x01, 0x41, 0x80, 0x01, // i32.const 0, 64, 1, 128
		0x10, 0x00, 0x1a, 0x0b} // call 0, drop, end
	m = append(m, section(0x0a, append([]byte{0x01, byte(len(body))}, body...)...)...)
	data := append([]byte{0x01, 0x00, 0x41, 0x00, 0x0b, byte(len(sub))}, sub...)
	return append(m, section(0x0b, data...)...)
}
