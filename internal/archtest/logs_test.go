package archtest

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStructuredLogs keeps the logs structured (docs/ARCHITECTURE.md,
// Logs): no non-test file calls a formatted method (Infof, Warnln, ...) of
// a logger, so that every line is a constant message with key-value pairs
// (Infow, Warnw, ...) that GOLOG_LOG_FMT=json output can be filtered on.
// A logger is recognised by its name: every one in the code is log, Log or
// logger (go-log's package loggers, the Logger fields of the roles' options,
// the ledger's slog.Logger), which leaves out fmt.Errorf, t.Errorf and the
// like.
func TestStructuredLogs(t *testing.T) {
	var found []string
	err := eachGoFile(filepath.Join("..", ".."), func(rel string, fset *token.FileSet, f *ast.File, _ []byte) {
		for _, c := range formattedLogCalls(f) {
			found = append(found, fmt.Sprintf("%s:%d: %s formats its message: log a constant one with key-value pairs (Infow, Warnw, ...)",
				rel, fset.Position(c.Pos()).Line, callName(c)))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range found {
		t.Error(f)
	}
}

// TestStructuredLogsSeeViolations makes sure formattedLogCalls flags what
// it should, so that it cannot pass the real code vacuously.
func TestStructuredLogsSeeViolations(t *testing.T) {
	src := `package x
func f() {
	log.Infof("a %d", 1)
	p.log.Warnf("b %v", err)
	o.Log.Debugln("c")
	b.cfg.logger.Errorf("d")
	fmt.Errorf("not a log: %w", err)
	t.Errorf("not a log")
	log.Infow("structured", "job", id)
	b.cfg.log.Error("slog: structured", "err", err)
	catalog.Infof("not a logger's name")
}`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "x.go", src, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range formattedLogCalls(f) {
		got = append(got, callName(c))
	}
	want := []string{"log.Infof", "p.log.Warnf", "o.Log.Debugln", "b.cfg.logger.Errorf"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("flagged %q, want %q", got, want)
	}
}

// isLoggerName says whether a name is one a logger goes by in the code.
func isLoggerName(name string) bool { return name == "log" || name == "Log" || name == "logger" }

// formattedLogCalls are f's calls of a formatted method (Debugf, Infoln,
// ...) on a receiver named like a logger (log, x.log, x.y.Log, logger).
func formattedLogCalls(f *ast.File) []*ast.CallExpr {
	var calls []*ast.CallExpr
	ast.Inspect(f, func(n ast.Node) bool {
		c, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := c.Fun.(*ast.SelectorExpr)
		if !ok || !isFormatted(sel.Sel.Name) {
			return true
		}
		switch x := sel.X.(type) {
		case *ast.Ident:
			ok = isLoggerName(x.Name)
		case *ast.SelectorExpr:
			ok = isLoggerName(x.Sel.Name)
		default:
			ok = false
		}
		if ok {
			calls = append(calls, c)
		}
		return true
	})
	return calls
}

// isFormatted says whether a zap SugaredLogger method of that name formats
// its arguments into the message.
func isFormatted(method string) bool {
	for _, level := range []string{"Debug", "Info", "Warn", "Error", "DPanic", "Panic", "Fatal"} {
		if method == level+"f" || method == level+"ln" {
			return true
		}
	}
	return false
}

// callName is a call's function as written: log.Infof, p.log.Warnf.
func callName(c *ast.CallExpr) string {
	var name func(ast.Expr) string
	name = func(e ast.Expr) string {
		switch e := e.(type) {
		case *ast.Ident:
			return e.Name
		case *ast.SelectorExpr:
			return name(e.X) + "." + e.Sel.Name
		}
		return "?"
	}
	return name(c.Fun)
}

// eachGoFile parses every non-test .go file under root (but testdata,
// vendor and hidden directories) and hands it to fn with its path relative
// to root.
func eachGoFile(root string, fn func(rel string, fset *token.FileSet, f *ast.File, src []byte)) error {
	fset := token.NewFileSet()
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (strings.HasPrefix(n, ".") || n == "testdata" || n == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		f, err := parser.ParseFile(fset, path, src, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		fn(filepath.ToSlash(rel), fset, f, src)
		return nil
	})
}
