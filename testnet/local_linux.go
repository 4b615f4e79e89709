package testnet

import "syscall"

// childAttr makes a node die with the process that started it.
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }
