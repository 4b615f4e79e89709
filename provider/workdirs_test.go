package provider

import (
	"os"
	"path/filepath"
	"testing"
)

// A WASM run's directories are reused only when the run left them empty;
// any other run's, and any pair left with something in it, are removed.
func TestWorkDirsReuse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		reusable bool
		leave    string // a file the run leaves behind ("" none)
		reused   bool
	}{
		{"wasm, empty", true, "", true},
		{"wasm, an output left", true, "outputs/result.txt", false},
		{"wasm, an input left", true, "inputs/data.bin", false},
		{"container, empty", false, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &workDirs{base: filepath.Join(t.TempDir(), "runs")}
			t.Cleanup(w.close)
			in, out, cleanup, err := w.take(tc.reusable)
			if err != nil {
				t.Fatal(err)
			}
			root := filepath.Dir(in)
			if filepath.Dir(out) != root {
				t.Fatalf("inputs %s and outputs %s not in one run directory", in, out)
			}
			if tc.leave != "" {
				if err := os.WriteFile(filepath.Join(root, tc.leave), []byte("x"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			cleanup()
			in2, out2, cleanup2, err := w.take(true)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(cleanup2)
			if got := filepath.Dir(in2) == root; got != tc.reused {
				t.Fatalf("reused: %v, want %v", got, tc.reused)
			}
			if _, err := os.Stat(root); tc.reused != (err == nil) {
				t.Fatalf("the first run's directory exists: %v, want %v", err == nil, tc.reused)
			}
			for _, d := range []string{in2, out2} {
				if !empty(d) {
					t.Fatalf("%s handed to a new run is not empty", d)
				}
			}
		})
	}
}

// Close removes the directories kept for reuse.
func TestWorkDirsClose(t *testing.T) {
	t.Parallel()
	base := filepath.Join(t.TempDir(), "runs")
	w := &workDirs{base: base}
	var cleanups []func()
	for range 3 {
		_, _, cleanup, err := w.take(true)
		if err != nil {
			t.Fatal(err)
		}
		cleanups = append(cleanups, cleanup)
	}
	for _, c := range cleanups {
		c()
	}
	w.close()
	ents, err := os.ReadDir(base)
	if err != nil || len(ents) != 0 {
		t.Fatalf("after close: %d entries, %v", len(ents), err)
	}
}
