package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/store"
)

// repeated submits req n times, parallel at a time, through a node's API:
// each copy is its own job (its own nonce and ID). Each outcome is
// reported as it comes (one JSON line each with --json), outputs go to
// outDir/<job ID>, and a summary goes to stderr: how many completed, the
// throughput and the submit → result percentiles.
func repeated(ctx context.Context, stdout, stderr io.Writer, c *api.Client, s *store.Store, req api.SubmitRequest,
	n, parallel int, outDir string, asJSON bool) error {
	type done struct {
		out *job.Outcome
		err error
	}
	results := make(chan done)
	sem := make(chan struct{}, max(parallel, 1))
	var wg sync.WaitGroup
	start := time.Now()
	go func() {
		for range n {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
			}
			if ctx.Err() != nil {
				break
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				out, err := c.Submit(ctx, req, nil)
				results <- done{out, err}
			}()
		}
		wg.Wait()
		close(results)
	}()
	var (
		totals          []float64
		completed, seen int
		firstErr        error
	)
	inFlight := 0 // jobs the node goes on with after an interrupt
	for d := range results {
		seen++
		if d.err != nil && ctx.Err() != nil {
			inFlight++
			continue
		}
		if d.err != nil {
			if msg, ok := api.BadRequest(d.err); ok {
				firstErr = firstOf(firstErr, usageErr("%s", msg))
			} else {
				firstErr = firstOf(firstErr, netErr(d.err))
			}
			fmt.Fprintf(stderr, "job %d: %v\n", seen, d.err)
			continue
		}
		if outDir != "" {
			if err := writeOutputs(ctx, s, d.out, filepath.Join(outDir, d.out.Job)); err != nil {
				firstErr = firstOf(firstErr, err)
			}
		}
		err := report(stdout, stderr, d.out, asJSON)
		if err == nil {
			completed++
			totals = append(totals, d.out.Timings.Total)
		}
		firstErr = firstOf(firstErr, err)
	}
	wall := time.Since(start)
	slices.Sort(totals)
	pct := func(p float64) float64 {
		if len(totals) == 0 {
			return 0
		}
		return totals[min(len(totals)-1, int(p*float64(len(totals))))]
	}
	fmt.Fprintf(stderr, "%d jobs, %d at a time: %d completed, %d not, in %.2f s (%.1f jobs/s); submit → result p50 %.1f ms, p90 %.1f ms\n",
		seen, max(parallel, 1), completed, seen-completed, wall.Seconds(), float64(completed)/wall.Seconds(), pct(0.5), pct(0.9))
	if ctx.Err() != nil { // Ctrl-C: what was submitted goes on in the node
		fmt.Fprintf(stderr, "interrupted: %d jobs in flight go on in the node, the rest were not submitted: meshnode jobs lists them, meshnode cancel stops one\n", inFlight)
		return silentExit(exitDetached)
	}
	return firstErr
}

// firstOf keeps the first error.
func firstOf(first, err error) error {
	if first != nil {
		return first
	}
	return err
}
