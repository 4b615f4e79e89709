//go:build wasip1

package main

import (
	"fmt"
	"os"
	"strings"
)

// attacks are escape attempts against a canary file outside the mounts:
// relCanary is its path relative to /outputs on the host
// ("../../canary"), absCanary its absolute host path. Each prints whatever
// it managed to read, and tries to write beside the canary.
var attacks = map[string]func(relCanary, absCanary string){
	"rel-symlink-up": func(rel, _ string) {
		try(os.Symlink(rel, "/outputs/x"))
		leak("/outputs/x")
		scribble("/outputs/x")
	},
	"abs-symlink": func(_, abs string) {
		try(os.Symlink(abs, "/outputs/x"))
		leak("/outputs/x")
	},
	"dotdot-chain": func(rel, _ string) {
		try(os.Symlink("..", "/outputs/u1"))
		try(os.Symlink("u1/..", "/outputs/u2"))
		leak("/outputs/u2/canary")
		scribble("/outputs/u2/new")
	},
	"symlink-then-rename": func(rel, _ string) {
		try(os.Mkdir("/outputs/sub", 0o755))
		try(os.Symlink("../"+rel, "/outputs/sub/l"))
		try(os.Rename("/outputs/sub/l", "/outputs/l"))
		leak("/outputs/l")
	},
	"symlink-dir-race": func(rel, _ string) {
		for range 200 {
			try(os.Mkdir("/outputs/d", 0o755))
			try(os.Remove("/outputs/d"))
			try(os.Symlink("../..", "/outputs/d"))
			leak("/outputs/d/canary")
			os.Remove("/outputs/d")
		}
	},
	"hardlink-abs": func(_, abs string) {
		try(os.Link(abs, "/outputs/h"))
		leak("/outputs/h")
	},
	"hardlink-rel": func(rel, _ string) {
		try(os.Link("/outputs/"+rel, "/outputs/h"))
		leak("/outputs/h")
	},
	"hardlink-through-symlinked-dir": func(rel, _ string) {
		try(os.Symlink("../..", "/outputs/sd"))
		try(os.Link("/outputs/sd/canary", "/outputs/h"))
		leak("/outputs/h")
	},
	"dotdot-after-link": func(rel, _ string) {
		try(os.Mkdir("/outputs/a", 0o755))
		try(os.Symlink("a", "/outputs/la"))
		leak("/outputs/la/../../canary")
		leak("/outputs/la/../" + rel)
	},
	"creat-through-dangling-link": func(rel, _ string) {
		try(os.Symlink("../../new", "/outputs/dang"))
		scribble("/outputs/dang")
	},
	"write-inputs": func(_, _ string) {
		scribble("/inputs/in.txt")
		scribble("/inputs/new")
		try(os.Mkdir("/inputs/d", 0o755))
		try(os.Remove("/inputs/in.txt"))
		try(os.Rename("/inputs/in.txt", "/inputs/moved"))
		try(os.Truncate("/inputs/in.txt", 0))
		try(os.Chmod("/inputs/in.txt", 0o777))
		try(os.Symlink("../../canary", "/inputs/l"))
	},
	"rename-out": func(_, _ string) {
		try(os.WriteFile("/outputs/f", []byte("f"), 0o644))
		try(os.Rename("/outputs/f", "/inputs/f"))
		try(os.Rename("/outputs/f", "/outputs/../../f"))
		try(os.Rename("/outputs/f", "/f"))
	},
	"mkdir-through-link": func(_, _ string) {
		try(os.Symlink("../..", "/outputs/l"))
		try(os.Mkdir("/outputs/l/newdir", 0o755))
	},
	"readlink-host-links": func(_, _ string) {
		for _, p := range []string{"/inputs/hostlink-rel", "/inputs/hostlink-abs", "/outputs/hostlink-rel", "/outputs/hostlink-abs", "/inputs/hostdir/canary", "/outputs/hostdir/canary"} {
			leak(p)
			if s, err := os.Readlink(p); err == nil {
				fmt.Println("readlink", p, s)
			}
			scribble(p)
		}
	},
	"long-and-nul-names": func(rel, _ string) {
		leak("/outputs/" + strings.Repeat("a", 300))
		leak("/outputs/" + strings.Repeat("a/", 3000) + rel)
		leak("/outputs/x\x00/../../canary")
		scribble("/outputs/" + strings.Repeat("../", 100) + "new")
	},
	"cwd-tricks": func(rel, _ string) {
		try(os.Chdir("/outputs"))
		leak(rel)
		leak("../canary")
		scribble("../../new")
	},
	"dirfd-dotdot": func(rel, _ string) {
		try(os.Mkdir("/outputs/sub", 0o755))
		if r, err := os.OpenRoot("/outputs/sub"); err == nil {
			b, err := r.ReadFile("../" + rel)
			try(err)
			os.Stdout.Write(b)
		} else {
			try(err)
		}
		if f, err := os.Open("/outputs/sub/../.."); err == nil {
			names, _ := f.Readdirnames(-1)
			fmt.Println(names)
		} else {
			try(err)
		}
	},
	"absolute-paths": func(_, abs string) {
		leak(abs)
		leak("/etc/passwd")
		scribble(abs + ".new")
	},
}

func try(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "refused:", err)
	}
}

// leak prints the file at p, if it can be read.
func leak(p string) {
	if b, err := os.ReadFile(p); err == nil {
		os.Stdout.Write(b)
	} else {
		try(err)
	}
}

// scribble writes through p.
func scribble(p string) {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		try(err)
		return
	}
	_, err = f.WriteString("scribbled")
	try(err)
	f.Close()
}
