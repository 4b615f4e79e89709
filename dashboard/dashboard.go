package dashboard

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

// static holds the dashboard's files (read-only).
//
//go:embed static
var static embed.FS

// Policy is the Content-Security-Policy of every page: scripts, styles
// and fetches from the node's own origin only, no framing.
const Policy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler serves the dashboard under /dashboard/: its files under
// /dashboard/static/, and the one page (index.html, which draws the page
// its path names) at every other path.
func Handler() http.Handler {
	files, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree has a static folder: a build without it is broken
	}
	serveFiles := http.StripPrefix("/dashboard/static/", http.FileServerFS(files))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "the dashboard's pages are read with GET", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Security-Policy", Policy)
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		if strings.HasPrefix(r.URL.Path, "/dashboard/static/") {
			serveFiles.ServeHTTP(w, r)
			return
		}
		http.ServeFileFS(w, r, files, "index.html")
	})
}
