package api_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/job"
)

// Submit a WASM job to the node running with a data dir, follow its
// logs, and download its outputs.
func Example() {
	ctx := context.Background()
	c, err := api.Dial(os.ExpandEnv("$HOME/.computemesh"))
	if err != nil {
		fmt.Println(err)
		return
	}
	mod, _ := os.ReadFile("hello.wasm")
	spec := job.Spec{
		Executor: job.ExecutorWASM, Module: job.ModuleCID(mod).String(), Name: "hello.wasm",
		Resources: job.Resources{CPUMillis: 1000, MemoryBytes: 64 << 20}, TimeoutMS: 30_000, Policy: "cost",
	}
	sub, err := c.Submit(ctx, api.SubmitRequest{Spec: spec, Module: mod, Detach: true,
		DeadlineMS: time.Now().Add(time.Minute).UnixMilli()}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = c.Events(ctx, sub.Job, true, func(e job.Event) {
		if e.Kind == job.EventLog {
			fmt.Print(e.Message)
		}
	})
	rec, err := c.Job(ctx, sub.Job)
	if err == nil && rec.Outcome != nil && rec.Outcome.Outputs != "" {
		err = c.Download(ctx, rec.Outcome.Outputs, "outputs")
	}
	fmt.Println(err)
}
