package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	logging "github.com/ipfs/go-log/v2"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// applyConfig fills every flag the command line did not set, first from the
// environment (MESHNODE_<FLAG>, dashes as underscores), then from the YAML
// file given by --config. Precedence: flag > env > file > default.
func applyConfig(cmd *cobra.Command) error {
	var file map[string]any
	if path, _ := cmd.Flags().GetString("config"); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return usageErr("config: %v", err)
		}
		if err := yaml.Unmarshal(b, &file); err != nil {
			return usageErr("config %s: %v", path, err)
		}
		for k := range file {
			if k == "simulated" && cmd.Flags().Lookup("simulate-gpu") != nil {
				continue // start's simulated-capacity section, read by readSimulated
			}
			if cmd.Flags().Lookup(k) == nil {
				return usageErr("config %s: unknown setting %q (settings are the flags of meshnode %s)", path, k, cmd.Name())
			}
		}
	}
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed {
			return
		}
		env := "MESHNODE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok {
			if e := cmd.Flags().Set(f.Name, v); e != nil {
				err = usageErr("%s: %v", env, e)
			}
			return
		}
		if v, ok := file[f.Name]; ok {
			var s string
			switch v := v.(type) {
			case []any:
				parts := make([]string, len(v))
				for i, p := range v {
					parts[i] = fmt.Sprint(p)
				}
				s = strings.Join(parts, ",")
			default:
				s = fmt.Sprint(v)
			}
			if e := cmd.Flags().Set(f.Name, s); e != nil {
				err = usageErr("config: %s: %v", f.Name, e)
			}
		}
	})
	if err != nil {
		return err
	}
	if lvl, _ := cmd.Flags().GetString("log-level"); lvl != "" {
		if err := logging.SetLogLevel("*", lvl); err != nil {
			return usageErr("log-level: %v", err)
		}
	}
	return nil
}

func defaultDataDir() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ".computemesh"
	}
	return filepath.Join(home, ".computemesh")
}

// splitList splits comma-separated flag values, dropping empties.
func splitList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}
