// Package tiny embeds the tiny example module: a hand-written WebAssembly
// text module (tiny.wat) that prints one line. It is the "tiny job" of the
// throughput benchmark.
package tiny

import _ "embed"

//go:embed tiny.wasm
var module []byte

// Module returns the bytes of tiny.wasm. The slice is shared: callers must
// not modify it.
func Module() []byte { return module }
