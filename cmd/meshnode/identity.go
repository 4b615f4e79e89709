package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/computemesh/computemesh/mesh"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/spf13/cobra"
)

// keyWarning is said whenever a key leaves or enters a data dir.
const keyWarning = "warning: this key is the node's identity and holds its credits: anyone who has it can act as this node and spend them. Keep the file secret, and never run two nodes with one key."

func newIdentity() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "identity",
		Short: "Export or import a node's identity key (it holds the node's credits)",
	}
	export := &cobra.Command{
		Use:   "export",
		Short: "Write the identity key of --data-dir to --out (mode 0600) or stdout",
		Args:  cobra.NoArgs,
		RunE:  runIdentityExport,
	}
	export.Flags().String("out", "", "file to write (created with mode 0600; never overwritten)")
	imp := &cobra.Command{
		Use:   "import FILE",
		Short: "Install an exported identity key in --data-dir (refused when it already holds one)",
		Args:  cobra.ExactArgs(1),
		RunE:  runIdentityImport,
	}
	for _, c := range []*cobra.Command{export, imp} {
		c.Flags().String("data-dir", defaultDataDir(), "the node's data dir")
		cmd.AddCommand(c)
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "test SEED",
		Short: "Print the peer ID that start --test-identity SEED gives (test networks only; anyone can derive its key)",
		Args:  cobra.ExactArgs(1),
		RunE:  runIdentityTest,
	})
	return cmd
}

func runIdentityExport(cmd *cobra.Command, _ []string) error {
	if err := applyConfig(cmd); err != nil {
		return err
	}
	dir, _ := cmd.Flags().GetString("data-dir")
	b, id, err := mesh.ExportKey(dir)
	if err != nil {
		return usageErr("%v", err)
	}
	fmt.Fprintln(cmd.ErrOrStderr(), keyWarning)
	out, _ := cmd.Flags().GetString("out")
	if out == "" {
		_, err = cmd.OutOrStdout().Write(b)
		return err
	}
	if err := writeNewKeyFile(out, b); err != nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "exported the identity of %s to %s\n", id, out)
	return nil
}

// writeNewKeyFile writes b to a new file of mode 0600, never overwriting
// one, and syncs it.
func writeNewKeyFile(out string, b []byte) error {
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return usageErr("--out: %v (an existing file is never overwritten)", err)
	}
	if _, err = f.Write(b); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", out, err)
	}
	return nil
}

func runIdentityImport(cmd *cobra.Command, args []string) error {
	if err := applyConfig(cmd); err != nil {
		return err
	}
	dir, _ := cmd.Flags().GetString("data-dir")
	b, err := os.ReadFile(args[0])
	if err != nil {
		return usageErr("%v", err)
	}
	id, err := mesh.ImportKey(dir, b)
	if err != nil {
		return usageErr("%v", err)
	}
	fmt.Fprintln(cmd.ErrOrStderr(), keyWarning)
	fmt.Fprintf(cmd.OutOrStdout(), "%s is now the identity of %s\n", id, filepath.Clean(dir))
	return nil
}

func runIdentityTest(cmd *cobra.Command, args []string) error {
	id, err := peer.IDFromPrivateKey(mesh.TestKey(args[0]))
	if err != nil {
		return err
	}
	fmt.Fprintln(cmd.OutOrStdout(), id)
	return nil
}
