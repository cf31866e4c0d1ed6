//go:build !linux

package procstat

// IO counts write system calls and the bytes passed to them.
type IO struct {
	Writes, WriteBytes int64
}

// Sub returns a - b.
func (a IO) Sub(b IO) IO { return IO{a.Writes - b.Writes, a.WriteBytes - b.WriteBytes} }

// Add returns a + b.
func (a IO) Add(b IO) IO { return IO{a.Writes + b.Writes, a.WriteBytes + b.WriteBytes} }

// Writes is not measured on this platform.
func Writes() (IO, bool) { return IO{}, false }

// Machine is not measured on this platform.
func Machine() (busy, steal, all uint64, ok bool) { return 0, 0, 0, false }
