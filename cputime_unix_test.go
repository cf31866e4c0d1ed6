//go:build unix

package defacto_test

import (
	"syscall"
	"time"
)

// cpuTime returns the user plus system CPU time of the process so far, so
// a benchmark can report CPU beside wall time: on a shared machine wall time
// includes waiting for the CPU, and CPU time misses fsync waits.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
