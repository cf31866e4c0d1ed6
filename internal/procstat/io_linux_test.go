package procstat

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWritesCountsWrites(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "w"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 1000)
	before, ok := Writes()
	if !ok {
		t.Fatal("no /proc/self/io")
	}
	for range 3 {
		if _, err := f.Write(buf); err != nil {
			t.Fatal(err)
		}
	}
	after, _ := Writes()
	// Other goroutines (the runtime, the test framework) may write too, so
	// the counts are at least, not exactly, what this test wrote.
	if d := after.Sub(before); d.Writes < 3 || d.WriteBytes < 3000 {
		t.Errorf("IO = %+v, want at least 3 writes of 3000 bytes", d)
	}
}

func TestMachine(t *testing.T) {
	busy, steal, all, ok := Machine()
	if !ok || all == 0 || busy+steal > all {
		t.Errorf("Machine() = %d, %d, %d, %v", busy, steal, all, ok)
	}
}
