//go:build !linux

package main

// readIO is only implemented on Linux (/proc/self/io).
func readIO() (IO, bool) { return IO{}, false }
