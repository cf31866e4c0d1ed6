// Package procstat reads counters of the running process and of the
// machine, for benchmarks that report more than wall time:
//
//   - Process: the CPU time the process used. On a shared machine wall time
//     includes waiting for a CPU, and CPU time misses fsync waits, so each
//     tells what the other hides.
//   - Writes: the write system calls of the process and the bytes they
//     passed. They are exact, so a change that writes fewer pages shows in a
//     single run, however loaded the machine is.
//   - Machine: the busy and stolen CPU time of the whole machine, which
//     bounds what a parallel run can gain.
//
// Writes and Machine are implemented on Linux only; elsewhere they report
// ok = false.
package procstat
