package executor

import (
	"encoding/binary"
	"fmt"
)

const (
	// wasmMagic opens every WebAssembly binary.
	wasmMagic = "\x00asm"
	// wasmHeaderLen is the length of the magic number and version.
	wasmHeaderLen = 8
	// wasmVersion1 is the only core module version there is.
	wasmVersion1 = 1
	// componentVersion is the version and layer fields of a component
	// model binary (version 0x0d, layer 1), little-endian.
	componentVersion = 0x0001000d
)

// ValidateWASM checks that module starts with the header of a WebAssembly
// core module (the magic number "\0asm" and version 1). It looks at nothing
// else: a module that passes may still fail to compile.
func ValidateWASM(module []byte) error {
	if len(module) < wasmHeaderLen {
		return fmt.Errorf("%w: too short (%d bytes, a module has at least %d)",
			ErrNotWASM, len(module), wasmHeaderLen)
	}
	if string(module[:4]) != wasmMagic {
		return fmt.Errorf("%w: bad magic number (file starts with %q)", ErrNotWASM, module[:4])
	}
	switch v := binary.LittleEndian.Uint32(module[4:wasmHeaderLen]); v {
	case wasmVersion1:
		return nil
	case componentVersion:
		return fmt.Errorf("%w: it is a WebAssembly component, only core modules (WASI preview 1) are supported",
			ErrNotWASM)
	default:
		return fmt.Errorf("%w: unsupported binary version %d (want %d)", ErrNotWASM, v, wasmVersion1)
	}
}
