package executor_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/computemesh/computemesh/executor"
)

// wasmBinary assembles a core module from sections (id, content).
func wasmBinary(sections ...[]byte) []byte {
	b := []byte("\x00asm\x01\x00\x00\x00")
	for _, s := range sections {
		b = append(b, s...)
	}
	return b
}

// section encodes one section with its size.
func section(id byte, content ...byte) []byte {
	return append(binary.AppendUvarint([]byte{id}, uint64(len(content))), content...)
}

// Hand-assembled modules, each with one function of type () -> ().
var (
	typeSection = section(1, 0x01, 0x60, 0x00, 0x00)
	funcSection = section(3, 0x01, 0x00)
	// exportFunc exports function 0 as name.
	exportFunc = func(name string) []byte {
		c := append([]byte{0x01, byte(len(name))}, name...)
		return section(7, append(c, 0x00, 0x00)...)
	}
	emptyBody       = section(10, 0x01, 0x02, 0x00, 0x0b)       // nop
	unreachableBody = section(10, 0x01, 0x03, 0x00, 0x00, 0x0b) // unreachable
)

func TestValidate(t *testing.T) {
	w := newWASM(t)
	tests := []struct {
		name   string
		module []byte
		want   string // in Validate's error; "" for none
	}{
		{"shell script", []byte("#!/bin/sh\necho hi\n"), `bad magic number (file starts with "#!/b")`},
		{"empty", nil, "too short (0 bytes"},
		{"short", []byte("\x00asm"), "too short (4 bytes"},
		{"version 2", []byte("\x00asm\x02\x00\x00\x00"), "unsupported binary version 2"},
		{"component", []byte("\x00asm\x0d\x00\x01\x00"), "WebAssembly component"},
		{"empty module", wasmBinary(), ""},
		{"hello", guest(t), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := w.Validate(t.Context(), executor.Task{Module: tt.module})
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil || !errors.Is(err, executor.ErrNotWASM) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want ErrNotWASM with %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "not a WebAssembly module: ") {
				t.Errorf("Validate = %q, want it to start with %q", err, "not a WebAssembly module: ")
			}
			_, runErr := w.Run(t.Context(), executor.Task{Module: tt.module, Name: "x"})
			if !errors.Is(runErr, executor.ErrInvalidModule) && !errors.Is(runErr, executor.ErrInvalidTask) {
				t.Errorf("Run = %v, want ErrInvalidModule", runErr)
			}
		})
	}
}

func TestRunModules(t *testing.T) {
	w := newWASM(t)
	tests := []struct {
		name     string
		module   []byte
		memory   uint64
		wantErr  string // in Run's error, which wraps ErrInvalidModule
		wantExit int
		wantMem  bool
		reason   string // in Result.Reason
	}{
		{name: "garbage after the header", module: wasmBinary([]byte{0xff, 0x01, 0x02}), wantErr: "invalid module: "},
		{name: "no _start", module: wasmBinary(), wantErr: "not a WASI command: no exported _start"},
		{name: "reactor", module: wasmBinary(typeSection, funcSection, exportFunc("_initialize"), emptyBody),
			wantErr: "it is a reactor"},
		{name: "foreign import", module: wasmBinary(typeSection,
			section(2, 0x01, 0x03, 'e', 'n', 'v', 0x03, 'f', 'o', 'o', 0x00, 0x00)),
			wantErr: "imports function env.foo"},
		{name: "_start returns", module: wasmBinary(typeSection, funcSection, exportFunc("_start"), emptyBody)},
		{name: "_start traps", module: wasmBinary(typeSection, funcSection, exportFunc("_start"), unreachableBody),
			wantExit: executor.ExitCodeAbnormal, reason: "unreachable"},
		{name: "declared memory over the limit", memory: 64 << 20, // min 2000 pages = 125 MiB
			module:   wasmBinary(section(5, 0x01, 0x00, 0xd0, 0x0f)),
			wantExit: executor.ExitCodeAbnormal, wantMem: true, reason: "over limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := w.Run(t.Context(), executor.Task{Name: "m.wasm", Module: tt.module, MemoryBytes: tt.memory})
			if tt.wantErr != "" {
				if !errors.Is(err, executor.ErrInvalidModule) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Run = %v, want ErrInvalidModule with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if r.ExitCode != tt.wantExit || r.MemoryExceeded != tt.wantMem || !strings.Contains(r.Reason, tt.reason) {
				t.Errorf("Result = exit %d, MemoryExceeded %v, Reason %q; want %d, %v, %q",
					r.ExitCode, r.MemoryExceeded, r.Reason, tt.wantExit, tt.wantMem, tt.reason)
			}
		})
	}
}

func TestRunInvalidTask(t *testing.T) {
	w := newWASM(t)
	module := wasmBinary(typeSection, funcSection, exportFunc("_start"), emptyBody)
	tests := []struct {
		name   string
		modify func(*executor.Task)
		want   string
	}{
		{"env name with =", func(task *executor.Task) { task.Env = map[string]string{"A=B": "c"} }, "env: invalid variable name"},
		{"env value with NUL", func(task *executor.Task) { task.Env = map[string]string{"A": "b\x00"} }, "env: value of A"},
		{"arg with NUL", func(task *executor.Task) { task.Args = []string{"ok", "a\x00"} }, "args[1]"},
		{"negative timeout", func(task *executor.Task) { task.Timeout = -1 }, "timeout"},
		{"memory over 4 GiB", func(task *executor.Task) { task.MemoryBytes = 5 << 30 }, "memory"},
		{"negative max output", func(task *executor.Task) { task.MaxOutput = -1 }, "max output"},
		{"no module", func(task *executor.Task) { task.Module = nil }, "module: empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			task := executor.Task{Module: module}
			tt.modify(&task)
			_, err := w.Run(t.Context(), task)
			if !errors.Is(err, executor.ErrInvalidTask) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run = %v, want ErrInvalidTask naming %q", err, tt.want)
			}
		})
	}
}

func TestNewWASMOptions(t *testing.T) {
	for _, opt := range []executor.WASMOption{
		executor.WithCacheDir(""),
		executor.WithMaxCachedModules(0),
		executor.WithMaxRuntimes(0),
		executor.WithDefaults(0, 1, 1),
		executor.WithDefaults(1, 0, 1),
		executor.WithDefaults(1, 1, 0),
	} {
		if w, err := executor.NewWASM(opt); err == nil {
			_ = w.Close()
			t.Errorf("NewWASM accepted a bad option")
		}
	}
}

func FuzzValidate(f *testing.F) {
	f.Add([]byte("\x00asm\x01\x00\x00\x00"))
	f.Add([]byte("\x00asm\x0d\x00\x01\x00"))
	f.Add([]byte("#!/bin/sh"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, module []byte) {
		err := executor.ValidateWASM(module)
		valid := len(module) >= 8 && bytes.Equal(module[:8], []byte("\x00asm\x01\x00\x00\x00"))
		if valid != (err == nil) {
			t.Fatalf("ValidateWASM(%q) = %v, want valid = %v", module, err, valid)
		}
		if err != nil && !errors.Is(err, executor.ErrNotWASM) {
			t.Fatalf("ValidateWASM(%q) = %v, not ErrNotWASM", module, err)
		}
	})
}
