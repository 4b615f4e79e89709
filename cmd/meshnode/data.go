package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/computemesh/computemesh/job"
	"github.com/computemesh/computemesh/store"
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

// addPath stores a file or a directory tree and returns its CID; with pin,
// pinned: the store's collections keep it (and a tree's files).
func addPath(s *store.Store, path string, pin bool) (cid.Cid, error) {
	st, err := os.Stat(path)
	if err != nil {
		return cid.Undef, usageErr("%v", err)
	}
	var c cid.Cid
	if st.IsDir() {
		c, _, err = s.AddDir(path)
	} else {
		c, _, err = s.AddFile(path)
	}
	if err != nil {
		return cid.Undef, usageErr("%v", err)
	}
	if pin {
		if err := s.Pin(c); err != nil {
			return cid.Undef, netErr(err)
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
			c, err := addPath(s, args[0], true)
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
		Short: "Write content from the node's store (a job's outputs, an input) to PATH",
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
			files, size, err := exportCID(s, c, out)
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

// exportCID writes a manifest's tree under out, or a single blob to out,
// and returns how many files and bytes it wrote.
func exportCID(s *store.Store, c cid.Cid, out string) (files int, size int64, err error) {
	if c.Type() == job.CodecJSON {
		m, err := s.Manifest(c)
		if err != nil {
			return 0, 0, netErr(err)
		}
		if err := s.Export(m, out); err != nil {
			return 0, 0, netErr(err)
		}
		return len(m.Entries), m.Size(), nil
	}
	b, err := s.Get(c)
	if err != nil {
		return 0, 0, netErr(err)
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		return 0, 0, netErr(err)
	}
	return 1, int64(len(b)), nil
}

// copyTree copies the blob c (and, for a manifest, every blob it names)
// from one store to another.
func copyTree(from, to *store.Store, c cid.Cid) error {
	b, err := from.Get(c)
	if err != nil {
		return err
	}
	if _, err := to.Put(b, c.Type()); err != nil {
		return err
	}
	if c.Type() != job.CodecJSON {
		return nil
	}
	m, err := from.Manifest(c)
	if err != nil {
		return err
	}
	for _, e := range m.Entries {
		ec, err := job.ParseCID(e.CID)
		if err != nil {
			return err
		}
		if err := copyTree(from, to, ec); err != nil {
			return err
		}
	}
	return nil
}

// parseInputs turns --input NAME=PATH|CID flags into job inputs, adding
// local paths to s. A CID that s lacks is taken from the fallback store
// (the default data dir's, where meshnode add puts content) when that has
// it.
func parseInputs(s, fallback *store.Store, flags []string) ([]job.Input, error) {
	var out []job.Input
	for _, f := range flags {
		name, src, ok := strings.Cut(f, "=")
		if !ok || name == "" || src == "" {
			return nil, usageErr("--input %q: want NAME=PATH, NAME=CID or NAME=URL[#cid=CID]", f)
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
				if err := copyTree(fallback, s, c); err != nil {
					return nil, usageErr("--input %s: %v", name, err)
				}
			}
			if !s.Has(c) {
				return nil, usageErr("--input %s: %s is not in the store (meshnode add it first)", name, c)
			}
			out = append(out, job.Input{Name: name, CID: c.String()})
			continue
		}
		// Not pinned: the job's record keeps it while the job runs.
		c, err := addPath(s, src, false)
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
