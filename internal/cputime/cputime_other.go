//go:build !unix

// Package cputime reads the CPU time a process has used, for benchmarks that
// report CPU beside wall time.
package cputime

import "time"

// Process is not measured on this platform: it returns 0.
func Process() time.Duration { return 0 }
