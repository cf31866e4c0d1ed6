package procstat

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
)

// IO counts write system calls and the bytes passed to them.
type IO struct {
	Writes, WriteBytes int64
}

// Sub returns a - b.
func (a IO) Sub(b IO) IO { return IO{a.Writes - b.Writes, a.WriteBytes - b.WriteBytes} }

// Add returns a + b.
func (a IO) Add(b IO) IO { return IO{a.Writes + b.Writes, a.WriteBytes + b.WriteBytes} }

// Writes returns the process's write counters so far (syscw and wchar of
// /proc/self/io): what the process asked the kernel to write, whether or
// not it reached the disk.
func Writes() (IO, bool) {
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

// Machine returns the machine's CPU time so far, in clock ticks summed over
// all CPUs, from the first line of /proc/stat: busy (user, nice, system,
// irq, softirq), stolen by the hypervisor (steal), and all of it (idle and
// iowait included).
func Machine() (busy, steal, all uint64, ok bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, 0, false
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 9 || string(f[0]) != "cpu" {
		return 0, 0, 0, false
	}
	var v [8]uint64 // user nice system idle iowait irq softirq steal
	for i := range v {
		if v[i], err = strconv.ParseUint(string(f[i+1]), 10, 64); err != nil {
			return 0, 0, 0, false
		}
	}
	busy = v[0] + v[1] + v[2] + v[5] + v[6]
	return busy, v[7], busy + v[3] + v[4] + v[7], true
}
