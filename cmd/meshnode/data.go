package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/computemesh/computemesh/api"
	"github.com/computemesh/computemesh/content"
	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/store"
	"github.com/computemesh/computemesh/unixfs"
	"github.com/ipfs/go-cid"
	"github.com/spf13/cobra"
)

// openDataStore opens the content store of a data dir: plain files, safe to
// write beside a running node (every write is an atomic rename).
func openDataStore(dataDir string) (*store.Store, error) {
	if dataDir == "" {
		dataDir = defaultDataDir()
	}
	s, err := store.Open(filepath.Join(dataDir, "blobs"))
	if err != nil {
		return nil, usageErr("%v", err)
	}
	return s, nil
}

// addPath stores a file or a directory tree as UnixFS (the CID `ipfs add
// --cid-version 1 --raw-leaves` gives it) and returns its CID; with pin,
// pinned: the store's collections keep it (and every block of it).
func addPath(ctx context.Context, s *store.Store, path string, pin bool) (cid.Cid, error) {
	c, err := content.Add(ctx, s, path)
	if err != nil {
		return cid.Undef, usageErr("%v", err)
	}
	if !pin {
		return c, nil // a job's record keeps it (and it is fresh: see store.Retention.MinAge)
	}
	if err := s.Pin(c); err != nil {
		return cid.Undef, netErr(err)
	}
	// A running node's collection may have taken blocks of a long import
	// before the pin: what is missing is added again, now protected.
	dag := unixfs.New(unixfs.StoreBlocks(s))
	if _, err := dag.Stat(ctx, c, getLimits()); err != nil {
		if _, err := content.Add(ctx, s, path); err != nil {
			return cid.Undef, usageErr("%v", err)
		}
		if _, err := dag.Stat(ctx, c, getLimits()); err != nil {
			return cid.Undef, netErr(fmt.Errorf("%s was added as %s but is not whole in the store: %w", path, c, err))
		}
	}
	return c, nil
}

func newAdd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "add FILE|DIR",
		Short: "Store a file or directory in the node's store, pinned (kept by 'meshnode gc'), and print its CID",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := applyConfig(cmd); err != nil {
				return err
			}
			dataDir, _ := cmd.Flags().GetString("data-dir")
			s, err := openDataStore(dataDir)
			if err != nil {
				return err
			}
			ctx, done := transferProgress(cmd.Context(), cmd.ErrOrStderr(), "added")
			c, err := addPath(ctx, s, args[0], true)
			done()
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), c)
			return nil
		},
	}
	cmd.Flags().String("data-dir", defaultDataDir(), "data dir whose store receives the content")
	return cmd
}

func newGet() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "get CID -o PATH",
		Short: "Write content (a job's outputs, an input) to PATH: from the node's store, or, published, fetched from the mesh by the running node",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := applyConfig(cmd); err != nil {
				return err
			}
			dataDir, _ := cmd.Flags().GetString("data-dir")
			out, _ := cmd.Flags().GetString("output")
			if out == "" {
				return usageErr("-o PATH is required")
			}
			c, err := job.ParseCID(args[0])
			if err != nil {
				return usageErr("%v", err)
			}
			s, err := openDataStore(dataDir)
			if err != nil {
				return err
			}
			if !s.Has(c) {
				if err := fetchPublished(cmd, dataDir, c); err != nil {
					return err
				}
			}
			ctx, done := transferProgress(cmd.Context(), cmd.ErrOrStderr(), "written")
			files, size, err := exportCID(ctx, s, c, out)
			done()
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %d file(s), %s, to %s\n", files, job.FormatSize(uint64(size)), out)
			return nil
		},
	}
	cmd.Flags().String("data-dir", defaultDataDir(), "data dir whose store holds the content")
	cmd.Flags().StringP("output", "o", "", "where to write it: a directory for a tree, a file for a single blob")
	return cmd
}

// fetchPublished has the node running on dataDir bring c, published
// content it does not hold, into its store from whichever peer holds it.
func fetchPublished(cmd *cobra.Command, dataDir string, c cid.Cid) error {
	client, err := api.Dial(dataDir)
	if err != nil {
		return usageErr("%s is not in the store, and no node runs on %s to fetch it from the mesh (start one: meshnode start --data-dir %s)", c, dataDir, dataDir)
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "fetching %s from the mesh...\n", c)
	if _, err := client.FetchContent(cmd.Context(), c.String()); err != nil {
		return netErr(fmt.Errorf("fetching %s: %w", c, err))
	}
	return nil
}

// getLimits bound what `get` and `-o` write of a file or tree: its bytes,
// entries and depth (a DAG may link one block many times: what it expands
// to is counted, not what its blocks weigh).
func getLimits() unixfs.Limits { return unixfs.Limits{Bytes: 1 << 40, Entries: 1 << 22, Depth: 64} }

// exportCID writes the file or tree c at out, which must not exist or be
// an empty directory (nothing is overwritten), and returns how many files
// and bytes it wrote. A manifest of the earlier format is written as
// before, under out.
func exportCID(ctx context.Context, s *store.Store, c cid.Cid, out string) (files int, size int64, err error) {
	if c.Type() == job.CodecJSON {
		if err := clearTarget(out); err != nil {
			return 0, 0, err
		}
		m, err := s.Manifest(c)
		if err != nil {
			return 0, 0, netErr(err)
		}
		if err := s.Export(m, out); err != nil {
			return 0, 0, netErr(err)
		}
		return len(m.Entries), m.Size(), nil
	}
	dag := unixfs.New(unixfs.StoreBlocks(s))
	st, err := dag.Stat(ctx, c, getLimits())
	if err != nil {
		return 0, 0, netErr(err)
	}
	if err := clearTarget(out); err != nil {
		return 0, 0, err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return 0, 0, netErr(err)
	}
	if err := dag.Export(ctx, c, out, getLimits()); err != nil {
		return 0, 0, netErr(err)
	}
	return st.Files, st.Bytes, nil
}

// clearTarget makes way for an export to out: nothing there, or an empty
// directory (not a link to one), which it removes; anything else is
// refused, untouched.
func clearTarget(out string) error {
	fi, err := os.Lstat(out)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return usageErr("-o %s: %v", out, err)
	}
	if fi.IsDir() {
		if ents, err := os.ReadDir(out); err == nil && len(ents) == 0 {
			// rmdir: fails, touching nothing, if it was filled or swapped
			// for a file meanwhile.
			if err := syscall.Rmdir(out); err != nil {
				return usageErr("-o %s: %v", out, err)
			}
			return nil
		}
	}
	return usageErr("-o %s: it exists (it must not, or be an empty directory: nothing is overwritten)", out)
}

// parseInputs turns --input NAME=PATH|CID|URL|ipfs://CID flags into job
// inputs, adding local paths to s. A CID that s lacks is taken from the
// fallback store (the default data dir's, where meshnode add puts content)
// when that has it; one neither holds the node takes from a mesh node
// that announced it (Node.Submit), or refuses. An ipfs://CID the provider
// fetches from IPFS (Bitswap).
func parseInputs(ctx context.Context, s, fallback *store.Store, flags []string) ([]job.Input, error) {
	var out []job.Input
	for _, f := range flags {
		name, src, ok := strings.Cut(f, "=")
		if !ok || name == "" || src == "" {
			return nil, usageErr("--input %q: want NAME=PATH, NAME=CID, NAME=ipfs://CID or NAME=URL[#cid=CID]", f)
		}
		if rest, ok := strings.CutPrefix(src, "ipfs://"); ok {
			c, err := cid.Decode(rest)
			if err != nil {
				return nil, usageErr("--input %s: %s: %v", name, src, err)
			}
			out = append(out, job.Input{Name: name, CID: c.String(), Source: job.SourceIPFS})
			continue
		}
		if strings.HasPrefix(src, "https://") || strings.HasPrefix(src, "http://") {
			in, err := urlInput(name, src)
			if err != nil {
				return nil, err
			}
			out = append(out, in)
			continue
		}
		if c, err := cid.Decode(src); err == nil {
			if !s.Has(c) && fallback != nil && fallback.Has(c) {
				if err := store.CopyDAG(fallback, s, c); err != nil {
					return nil, usageErr("--input %s: %v", name, err)
				}
			}
			// One neither store holds: the node looks for a mesh node
			// that announced it, and refuses the job if none did.
			out = append(out, job.Input{Name: name, CID: c.String()})
			continue
		}
		// Not pinned: the job's record keeps it while the job runs.
		c, err := addPath(ctx, s, src, false)
		if err != nil {
			return nil, err
		}
		out = append(out, job.Input{Name: name, CID: c.String()})
	}
	return out, nil
}

// urlInput is the input NAME=URL[#cid=CID]: fetched by the provider, its
// bytes checked against CID when given (the fragment is the client's:
// it is not sent to the server).
func urlInput(name, src string) (job.Input, error) {
	u, frag, _ := strings.Cut(src, "#")
	in := job.Input{Name: name, URL: u}
	if frag != "" {
		c, ok := strings.CutPrefix(frag, "cid=")
		if !ok {
			return job.Input{}, usageErr("--input %s: the URL's fragment %q: want #cid=CID (what the fetched bytes must hash to)", name, frag)
		}
		if _, err := cid.Decode(c); err != nil {
			return job.Input{}, usageErr("--input %s: cid=%s: %v", name, c, err)
		}
		in.CID = c
	}
	return in, nil
}
