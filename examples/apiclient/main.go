// Command apiclient drives a running computemesh node through its API
// with the typed Go client (package api): it submits a WASM job, follows
// its logs as they arrive, and downloads its outputs.
//
//	meshnode start --data-dir ~/.computemesh ...   # or: meshnode devnet --dir D
//	go run ./examples/apiclient --data-dir D/client --module examples/hello/hello.wasm --out ./outputs world
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/job"
)

func main() {
	home, _ := os.UserHomeDir()
	dataDir := flag.String("data-dir", filepath.Join(home, ".computemesh"), "the running node's data dir (its api.addr and api.token)")
	module := flag.String("module", filepath.Join("examples", "hello", "hello.wasm"), "the WASM module to run (WASI preview 1)")
	out := flag.String("out", "", "download the job's outputs here (a path that does not exist)")
	wait := flag.Duration("wait", 2*time.Minute, "how long the job may wait for a provider")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *dataDir, *module, *out, *wait, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "apiclient:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, dataDir, modulePath, out string, wait time.Duration, args []string) error {
	c, err := api.Dial(dataDir)
	if err != nil {
		return err
	}
	mod, err := os.ReadFile(modulePath)
	if err != nil {
		return err
	}
	spec := job.Spec{
		Executor: job.ExecutorWASM, Module: job.ModuleCID(mod).String(), Name: filepath.Base(modulePath), Args: args,
		Resources: job.Resources{CPUMillis: 1000, MemoryBytes: 64 << 20},
		TimeoutMS: 30_000, Policy: "cost",
	}
	// Detach: the answer carries the job's ID at once; the node runs the
	// job whether or not this program stays to watch.
	sub, err := c.Submit(ctx, api.SubmitRequest{Spec: spec, Module: mod, Detach: true,
		DeadlineMS: time.Now().Add(wait).UnixMilli()}, nil)
	if err != nil {
		if msg, bad := api.BadRequest(err); bad {
			return fmt.Errorf("the node refused the job: %s", msg)
		}
		return err
	}
	fmt.Println("job", sub.Job)
	err = c.Events(ctx, sub.Job, true, func(e job.Event) {
		switch e.Kind {
		case job.EventLog:
			fmt.Print(e.Message)
		case job.EventBid:
			fmt.Printf("[bid] %s %s %s credits\n", e.Provider, e.Region, e.Price)
		case job.EventWinner, job.EventDone:
			fmt.Printf("[%s] %s %s\n", e.Kind, e.Provider, e.Message)
		}
	})
	if err != nil {
		return fmt.Errorf("following %s: %w", sub.Job, err)
	}
	rec, err := c.Job(ctx, sub.Job)
	if err != nil {
		return err
	}
	if rec.Outcome == nil || rec.Outcome.State != job.StateCompleted {
		return fmt.Errorf("job %s ended %s", sub.Job, rec.State)
	}
	fmt.Printf("completed on %s, charged %s credits\n", rec.Outcome.Provider, rec.Outcome.Charge)
	if out == "" || rec.Outcome.Outputs == "" {
		return nil
	}
	if err := c.Download(ctx, rec.Outcome.Outputs, out); err != nil {
		return err
	}
	fmt.Println("outputs in", out)
	return nil
}
