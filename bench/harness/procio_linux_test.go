package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestTimedCountsWrites(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "w"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 1000)
	sp, err := timed(func() error {
		for range 3 {
			if _, err := f.Write(buf); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Other goroutines (the runtime, the test framework) may write too, so
	// the counts are at least, not exactly, what this function wrote.
	if sp.IO.Writes < 3 || sp.IO.WriteBytes < 3000 {
		t.Errorf("IO = %+v, want at least 3 writes of 3000 bytes", sp.IO)
	}
}
