//go:build !wasip1

// Package hello embeds the compiled hello example (hello.wasm), a tiny WASI
// preview 1 command built from main.go, so that tests, benchmarks and the demo
// can run a real module without a Go toolchain for wasip1 at hand.
package hello

import _ "embed"

//go:embed hello.wasm
var module []byte

// Module returns the bytes of hello.wasm. The slice is shared: callers must
// not modify it.
func Module() []byte { return module }
