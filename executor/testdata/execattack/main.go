//go:build linux

// Command execattack is a job for the exec executor's hostile tests: each
// mode tries one way out of the sandbox and prints "ESCAPED" and exits 0
// when it works, or prints the error and exits 1 when it is refused.
package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"
	"unsafe"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: execattack MODE ARGS...")
		os.Exit(2)
	}
	arg := func(i int) string {
		if len(os.Args) <= i {
			fmt.Fprintln(os.Stderr, "missing argument")
			os.Exit(2)
		}
		return os.Args[i]
	}
	pid := func(i int) int {
		n, err := strconv.Atoi(arg(i))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		return n
	}
	var err error
	switch os.Args[1] {
	case "read": // read a file
		var b []byte
		if b, err = os.ReadFile(arg(2)); err == nil {
			fmt.Printf("read %d bytes: %q\n", len(b), b)
		}
	case "tcp": // connect to a TCP address
		var c net.Conn
		if c, err = net.DialTimeout("tcp", arg(2), 10*time.Second); err == nil {
			c.Close()
		}
	case "unix": // connect to a Unix socket ("@name": abstract)
		var c net.Conn
		if c, err = net.DialTimeout("unix", arg(2), 10*time.Second); err == nil {
			c.Close()
		}
	case "kill": // send SIGURG (harmless to a Go program) to a process
		err = syscall.Kill(pid(2), syscall.SIGURG)
	case "ptrace": // attach to a process without stopping it
		p := pid(2)
		const ptraceSeize = 0x4206
		if _, _, errno := syscall.RawSyscall6(syscall.SYS_PTRACE, ptraceSeize, uintptr(p), 0, 0, 0, 0); errno != 0 {
			err = errno
		} else {
			_, _, _ = syscall.RawSyscall6(syscall.SYS_PTRACE, syscall.PTRACE_DETACH, uintptr(p), 0, 0, 0, 0)
		}
	case "io_uring": // set up an io_uring
		var params [120]byte
		fd, _, errno := syscall.RawSyscall(425, 8, uintptr(unsafe.Pointer(&params)), 0) // io_uring_setup
		if errno != 0 {
			err = errno
		} else {
			syscall.Close(int(fd))
		}
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", os.Args[1])
		os.Exit(2)
	}
	if err != nil {
		fmt.Println("refused:", err)
		os.Exit(1)
	}
	fmt.Println("ESCAPED")
}
