// Command dockerjob is the test workload of the Docker executor's tests. It is
// built as a static binary (CGO_ENABLED=0) into an image FROM scratch; its
// first argument picks a behaviour:
//
//	hello          print "hello from docker"
//	env            print the value of $X
//	stdin          copy stdin to stdout
//	exit N         exit with status N
//	sleep D        sleep for the duration D (e.g. 30s), then print "slept"
//	alloc MiB      allocate and touch MiB mebibytes, then print "allocated"
//	ignore-term    ignore SIGTERM and sleep forever
//	net            try to dial 1.1.1.1:53 (1 s timeout), print "ok" or "fail: ..."
//	write          write /outputs/out.txt and try to write /inputs/x
//	readonly       try to write /etc/x (print "fail: ..." or "ok"), then /tmp/x
//	spam N         write N bytes to stdout and N bytes to stderr
//	spin D         use D of CPU time (whatever the load), then print "spun"
//	stderr         print "to stderr" on stderr
//	whoami         print the uid and gid
//	fill MiB       write MiB mebibytes of zeros to /outputs/fill, 1 MiB at a time
//	files N        create N empty files in /outputs
//
// It must never be run with network access: "net" would then send a packet.
package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: dockerjob BEHAVIOUR [ARG]")
		os.Exit(2)
	}
	arg := ""
	if len(os.Args) > 2 {
		arg = os.Args[2]
	}
	switch os.Args[1] {
	case "hello":
		fmt.Println("hello from docker")
	case "env":
		fmt.Println(os.Getenv("X"))
	case "stdin":
		if _, err := io.Copy(os.Stdout, os.Stdin); err != nil {
			fail(err)
		}
	case "exit":
		n, err := strconv.Atoi(arg)
		if err != nil {
			fail(err)
		}
		os.Exit(n)
	case "sleep":
		d, err := time.ParseDuration(arg)
		if err != nil {
			fail(err)
		}
		time.Sleep(d)
		fmt.Println("slept")
	case "ready-sleep":
		// Says it runs (the Go runtime's handlers are in place: SIGTERM
		// ends it, even as PID 1), then sleeps.
		d, err := time.ParseDuration(arg)
		if err != nil {
			fail(err)
		}
		fmt.Println("ready")
		time.Sleep(d)
		fmt.Println("slept")
	case "alloc":
		mib, err := strconv.Atoi(arg)
		if err != nil {
			fail(err)
		}
		var keep [][]byte
		for range mib {
			b := make([]byte, 1<<20)
			for i := 0; i < len(b); i += 4096 {
				b[i] = 1
			}
			keep = append(keep, b)
		}
		fmt.Println("allocated", len(keep))
	case "ignore-term":
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("ignoring SIGTERM")
		for {
			time.Sleep(time.Hour)
		}
	case "net":
		c, err := net.DialTimeout("tcp", "1.1.1.1:53", time.Second)
		if err != nil {
			fmt.Println("fail:", err)
			return
		}
		c.Close()
		fmt.Println("ok")
	case "write":
		if err := os.WriteFile("/outputs/out.txt", []byte("written by the job\n"), 0o644); err != nil {
			fail(err)
		}
		in, err := os.ReadFile("/inputs/in.txt")
		if err != nil {
			fail(err)
		}
		fmt.Printf("read input: %s", in)
		if err := os.WriteFile("/inputs/x", []byte("x"), 0o644); err != nil {
			fmt.Println("inputs write fail:", err)
		} else {
			fmt.Println("inputs write ok")
		}
	case "readonly":
		if err := os.WriteFile("/etc/x", []byte("x"), 0o644); err != nil {
			fmt.Println("fail:", err)
		} else {
			fmt.Println("ok")
		}
		if err := os.WriteFile("/tmp/x", []byte("x"), 0o644); err != nil {
			fmt.Println("tmp fail:", err)
		} else {
			fmt.Println("tmp ok")
		}
	case "spam":
		n, err := strconv.Atoi(arg)
		if err != nil {
			fail(err)
		}
		spam(os.Stdout, n, 'o')
		spam(os.Stderr, n, 'e')
	case "spin":
		d, err := time.ParseDuration(arg)
		if err != nil {
			fail(err)
		}
		// CPU time, not wall time: on a loaded machine the job still
		// uses what it was asked to, however long that takes.
		x := uint64(1)
		for cpuTime() < d {
			for range 100000 {
				x = x*6364136223846793005 + 1442695040888963407
			}
		}
		fmt.Println("spun", x&1)
	case "stderr":
		fmt.Fprintln(os.Stderr, "to stderr")
	case "fill":
		mib, err := strconv.Atoi(arg)
		if err != nil {
			fail(err)
		}
		f, err := os.Create("/outputs/fill")
		if err != nil {
			fail(err)
		}
		chunk := make([]byte, 1<<20)
		for range mib {
			if _, err := f.Write(chunk); err != nil {
				fail(err)
			}
		}
		fmt.Println("filled", mib)
	case "files":
		n, err := strconv.Atoi(arg)
		if err != nil {
			fail(err)
		}
		for i := range n {
			if err := os.WriteFile(fmt.Sprintf("/outputs/f%d", i), nil, 0o644); err != nil {
				fail(err)
			}
		}
		fmt.Println("created", n)
	case "whoami":
		fmt.Printf("%d:%d\n", os.Getuid(), os.Getgid())
	default:
		fmt.Fprintln(os.Stderr, "unknown behaviour", os.Args[1])
		os.Exit(2)
	}
}

func spam(w io.Writer, n int, c byte) {
	bw := bufio.NewWriterSize(w, 64<<10)
	line := make([]byte, 1024)
	for i := range line {
		line[i] = c
	}
	for n > 0 {
		k := min(n, len(line))
		bw.Write(line[:k])
		n -= k
	}
	bw.Flush()
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "error:", err)
	os.Exit(3)
}

// cpuTime is the CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		fail(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
