package main

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
)

// readIO returns the process's I/O counters from /proc/self/io: write
// system calls and the bytes they passed (syscw, wchar). Both count what
// the process asked the kernel to write, page cache or not, so they are
// exact and the same on every run of the same binary and workload, whatever
// else the machine is doing.
func readIO() (IO, bool) {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return IO{}, false
	}
	var io IO
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := bytes.Cut(sc.Bytes(), []byte(": "))
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			continue
		}
		switch string(k) {
		case "syscw":
			io.Writes = n
		case "wchar":
			io.WriteBytes = n
		}
	}
	return io, true
}
