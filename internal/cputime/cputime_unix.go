//go:build unix

// Package cputime reads the CPU time a process has used, for benchmarks that
// report CPU beside wall time: on a shared machine wall time includes waiting
// for a CPU, and CPU time misses fsync waits, so each tells what the other
// hides.
package cputime

import (
	"syscall"
	"time"
)

// Process returns the user plus system CPU time of the process so far.
func Process() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
