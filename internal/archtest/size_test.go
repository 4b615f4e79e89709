package archtest

import (
	"fmt"
	"go/ast"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

const (
	maxFileLines = 500
	maxFuncLines = 80
)

// exempt are the files and functions allowed past the limits, with the
// most lines each may have: a table of data, and what is still to be split
// (issue #14). An entry may shrink, never grow; a new one needs a reason.
var exempt = map[string]int{
	"sim/font.go":       0, // the 5×7 bitmap font: a table
	"sim/font.go glyph": 0,
}

// TestSizes keeps the non-test code in focused files and short functions:
// no file over maxFileLines, no function over maxFuncLines.
func TestSizes(t *testing.T) {
	var over []string
	err := eachGoFile(filepath.Join("..", ".."), func(rel string, fset *token.FileSet, f *ast.File, src []byte) {
		if n := strings.Count(string(src), "\n"); n > maxFileLines {
			over = append(over, check(rel, n, maxFileLines)...)
		}
		for _, decl := range f.Decls {
			fd, ok := decl.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			n := fset.Position(fd.End()).Line - fset.Position(fd.Pos()).Line + 1
			if n > maxFuncLines {
				over = append(over, check(rel+" "+funcName(fd), n, maxFuncLines)...)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range over {
		t.Error(o)
	}
}

// check reports what is over its limit: past limit and not exempt, or
// past its exemption.
func check(what string, n, limit int) []string {
	allowed, ok := exempt[what]
	switch {
	case !ok:
		return []string{fmt.Sprintf("%s: %d lines, limit %d (split it by concern)", what, n, limit)}
	case allowed > 0 && n > allowed:
		return []string{fmt.Sprintf("%s: %d lines, exempt up to %d only (it may shrink, not grow)", what, n, allowed)}
	}
	return nil
}

// funcName is fd's name, with its receiver's type for a method.
func funcName(fd *ast.FuncDecl) string {
	if fd.Recv == nil || len(fd.Recv.List) == 0 {
		return fd.Name.Name
	}
	typ := fd.Recv.List[0].Type
	if s, ok := typ.(*ast.StarExpr); ok {
		typ = s.X
	}
	if g, ok := typ.(*ast.IndexExpr); ok {
		typ = g.X
	}
	if id, ok := typ.(*ast.Ident); ok {
		return id.Name + "." + fd.Name.Name
	}
	return fd.Name.Name
}
