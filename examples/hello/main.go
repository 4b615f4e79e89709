//go:build wasip1

// Command hello is the smallest computemesh WASM job: it greets, echoes its
// arguments and, when HELLO_NAME is set, greets that name too.
package main

import (
	"fmt"
	"os"
	"strings"
)

func main() {
	fmt.Println("hello from computemesh")
	if len(os.Args) > 1 {
		fmt.Println(strings.Join(os.Args[1:], " "))
	}
	if name := os.Getenv("HELLO_NAME"); name != "" {
		fmt.Printf("hello, %s\n", name)
	}
}
