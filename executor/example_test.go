package executor_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/computemesh/computemesh/examples/hello"
	"github.com/computemesh/computemesh/executor"
)

func ExampleWASM_Run() {
	w, err := executor.NewWASM()
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()

	r, err := w.Run(context.Background(), executor.Task{
		Name:        "hello.wasm",
		Module:      hello.Module(),
		Args:        []string{"world"},
		Env:         map[string]string{"HELLO_NAME": "computemesh"},
		Timeout:     10 * time.Second,
		MemoryBytes: 64 << 20,
	})
	if err != nil {
		log.Fatal(err) // infrastructure problem or invalid module
	}
	fmt.Printf("exit %d\n%s", r.ExitCode, r.Stdout)
	// Output:
	// exit 0
	// hello from computemesh
	// world
	// hello, computemesh
}
