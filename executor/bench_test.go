package executor_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/computemesh/computemesh/examples/hello"
	"github.com/computemesh/computemesh/executor"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// BenchmarkHelloCold runs the hello module on a fresh executor each time:
// compilation included (the cold start of a provider that has never seen
// the module).
func BenchmarkHelloCold(b *testing.B) {
	mod := hello.Module()
	for b.Loop() {
		w, err := executor.NewWASM()
		if err != nil {
			b.Fatal(err)
		}
		r, err := w.Run(context.Background(), executor.Task{Name: "hello.wasm", Module: mod, ModuleKey: "hello", MemoryBytes: 64 << 20, Timeout: time.Minute})
		if err != nil || r.ExitCode != 0 || !r.Compiled {
			b.Fatalf("run: %v %+v", err, r)
		}
		w.Close()
	}
}

// BenchmarkHelloCachedOnDisk runs the hello module on a fresh executor that
// shares an on-disk compilation cache with earlier ones (a provider that
// restarted).
func BenchmarkHelloCachedOnDisk(b *testing.B) {
	mod := hello.Module()
	dir := b.TempDir()
	run := func() {
		w, err := executor.NewWASM(executor.WithCacheDir(dir))
		if err != nil {
			b.Fatal(err)
		}
		defer w.Close()
		if r, err := w.Run(context.Background(), executor.Task{Name: "hello.wasm", Module: mod, ModuleKey: "hello", MemoryBytes: 64 << 20, Timeout: time.Minute}); err != nil || r.ExitCode != 0 {
			b.Fatalf("run: %v %+v", err, r)
		}
	}
	run() // fill the disk cache
	for b.Loop() {
		run()
	}
}

// BenchmarkWazeroDirect runs the hello module warm through wazero alone,
// with the configuration the executor gives a guest: the executor's
// overhead is BenchmarkHelloWarm minus this.
func BenchmarkWazeroDirect(b *testing.B) {
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(true).WithMemoryLimitPages(1024))
	defer rt.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	cm, err := rt.CompileModule(ctx, hello.Module())
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		var out bytes.Buffer
		cfg := wazero.NewModuleConfig().WithName("").WithArgs("hello.wasm").WithStdout(&out).WithStderr(&out).
			WithSysWalltime().WithSysNanotime()
		m, err := rt.InstantiateModule(ctx, cm, cfg)
		if err != nil {
			b.Fatal(err)
		}
		m.Close(ctx)
	}
}
