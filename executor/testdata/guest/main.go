//go:build wasip1

// Command guest is the executor's test module: argv[1] chooses what it does.
package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fail("usage: guest COMMAND [ARG]")
	}
	arg := ""
	if len(os.Args) > 2 {
		arg = os.Args[2]
	}
	switch os.Args[1] {
	case "hello":
		fmt.Println("hello")
	case "tick": // tick N: print "tick 1" to "tick N", 100 ms apart, then write them to /outputs/ticks.txt
		var all strings.Builder
		for i := 1; i <= atoi(arg); i++ {
			line := fmt.Sprintf("tick %d\n", i)
			fmt.Print(line)
			all.WriteString(line)
			time.Sleep(100 * time.Millisecond)
		}
		if err := os.WriteFile("/outputs/ticks.txt", []byte(all.String()), 0o644); err != nil {
			fail(err.Error())
		}
	case "args":
		fmt.Print(strings.Join(os.Args, "|"))
	case "env":
		fmt.Print(os.Getenv("X"))
	case "envlist":
		fmt.Print(strings.Join(os.Environ(), "\n"))
	case "stdin":
		if _, err := io.Copy(os.Stdout, os.Stdin); err != nil {
			fail(err.Error())
		}
	case "exit":
		os.Exit(atoi(arg))
	case "loop":
		for n := 0; ; n++ {
			_ = n
		}
	case "sleep":
		d, err := time.ParseDuration(arg)
		if err != nil {
			fail(err.Error())
		}
		time.Sleep(d)
	case "alloc":
		hold := make([][]byte, 0, atoi(arg))
		for range atoi(arg) {
			b := make([]byte, 1<<20)
			for i := range b {
				b[i] = 1
			}
			hold = append(hold, b)
		}
		fmt.Println("allocated", len(hold), "MiB")
	case "spam":
		buf := make([]byte, 4096)
		for i := range buf {
			buf[i] = 'x'
		}
		for n := atoi(arg); n > 0; n -= len(buf) {
			if _, err := os.Stdout.Write(buf[:min(n, len(buf))]); err != nil {
				fail(err.Error())
			}
		}
	case "rand":
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			fail(err.Error())
		}
		fmt.Print(hex.EncodeToString(b))
	case "time":
		fmt.Print(time.Now().Year())
	case "cat": // cat PATH: print a file (inputs, or an attempt to escape)
		b, err := os.ReadFile(arg)
		if err != nil {
			fail(err.Error())
		}
		os.Stdout.Write(b)
	case "write": // write PATH: write "written by guest" to a file
		if err := os.WriteFile(arg, []byte("written by guest"), 0o644); err != nil {
			fail(err.Error())
		}
	case "upper": // upper: /outputs/upper.txt = upper-cased /inputs/in.txt
		b, err := os.ReadFile("/inputs/in.txt")
		if err != nil {
			fail(err.Error())
		}
		if err := os.WriteFile("/outputs/upper.txt", []byte(strings.ToUpper(string(b))), 0o644); err != nil {
			fail(err.Error())
		}
	case "copy": // copy: /outputs = a copy of the tree under /inputs
		if err := os.CopyFS("/outputs", os.DirFS("/inputs")); err != nil {
			fail(err.Error())
		}
	case "invert": // invert NAME: /outputs/NAME = /inputs/NAME with every bit flipped, streamed
		if err := invert("/inputs/"+arg, "/outputs/"+arg); err != nil {
			fail(err.Error())
		}
	case "escape": // escape NAME REL ABS: an attack of hostile.go
		attack, ok := attacks[arg]
		if !ok || len(os.Args) < 5 {
			fail("unknown attack " + arg)
		}
		attack(os.Args[3], os.Args[4])
	case "fill": // fill CHUNK: write files of CHUNK bytes until refused
		buf := make([]byte, atoi(arg))
		for i := 0; ; i++ {
			f, err := os.Create(fmt.Sprintf("/outputs/f%d", i))
			if err != nil {
				fail(err.Error())
			}
			if _, err := f.Write(buf); err != nil {
				fail(err.Error())
			}
			f.Close()
		}
	case "sparse": // sparse: huge offsets and sizes
		f, err := os.Create("/outputs/sparse")
		if err != nil {
			fail(err.Error())
		}
		_, err1 := f.WriteAt([]byte("x"), 1<<40)
		err2 := f.Truncate(1 << 40)
		fmt.Println(err1 != nil, err2 != nil)
	case "files": // files: create entries until refused
		for i := 0; ; i++ {
			if err := os.Mkdir(fmt.Sprintf("/outputs/d%d", i), 0o755); err != nil {
				fail(err.Error())
			}
			if err := os.WriteFile(fmt.Sprintf("/outputs/d%d/f", i), nil, 0o644); err != nil {
				fail(err.Error())
			}
		}
	case "churn": // churn N: write N bytes, delete, write N bytes again
		for range 2 {
			if err := os.WriteFile("/outputs/c", make([]byte, atoi(arg)), 0o644); err != nil {
				fail(err.Error())
			}
			if err := os.Remove("/outputs/c"); err != nil {
				fail(err.Error())
			}
		}
		if err := os.WriteFile("/outputs/c", make([]byte, atoi(arg)), 0o644); err != nil {
			fail(err.Error())
		}
	default:
		fail("unknown command " + os.Args[1])
	}
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		fail(err.Error())
	}
	return n
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, msg)
	os.Exit(100)
}

// invert writes to the file out the bytes of in with every bit flipped, a
// buffer at a time.
func invert(in, out string) error {
	r, err := os.Open(in)
	if err != nil {
		return err
	}
	defer r.Close()
	w, err := os.Create(out)
	if err != nil {
		return err
	}
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf)
		for i := range buf[:n] {
			buf[i] ^= 0xff
		}
		if _, werr := w.Write(buf[:n]); werr != nil {
			return werr
		}
		if err == io.EOF {
			return w.Close()
		}
		if err != nil {
			return err
		}
	}
}
