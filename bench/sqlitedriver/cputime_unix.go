//go:build unix

package sqlitedriver

import (
	"syscall"
	"time"
)

// processCPU returns the user+system CPU time the process has used so far
// (all threads: Go code, cgo/C code, the GC and the kernel work of the
// syscalls).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
