package main

import (
	"bytes"
	"os"
	"strconv"
)

// cpuTimes returns the machine's CPU time so far, in clock ticks summed over
// all CPUs, from the first line of /proc/stat: busy (user, nice, system,
// irq, softirq), stolen by the hypervisor (steal), and all of it (idle and
// iowait included).
func cpuTimes() (busy, steal, all uint64, ok bool) {
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
