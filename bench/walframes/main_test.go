package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseLine(t *testing.T) {
	for _, c := range []struct {
		line   string
		ok     bool
		db     string
		page   uint32
		commit bool
	}{
		{`4765  pwrite64(8</w/process/defacto.db-wal>, "\x00\x00\x00\x01\x00\x00\x00\x00"..., 24, 32) = 24`, true, "/w/process/defacto.db", 1, false},
		{`4765  pwrite64(8</w/p/x.db-wal>, "\x00\x00\x01\x2a\x00\x00\x00\x07"..., 24, 4152) = 24`, true, "/w/p/x.db", 298, true},
		// Printable bytes come through unescaped: 'A' is 0x41.
		{`1 pwrite64(3</a/b.db-wal>, "\x00\x00\x00A\x00\x00\x00\x00"..., 24, 56) = 24`, true, "/a/b.db", 65, false},
		{`4765  pwrite64(8</w/p/x.db-wal>, "SQLi"..., 4096, 56) = 4096`, false, "", 0, false},        // a page, not a header
		{`4765  pwrite64(8</w/p/x.db-wal>, "\x37\x7f\x06\x82"..., 32, 0) = 32`, false, "", 0, false}, // the WAL header
		{`4765  pwrite64(9</w/p/x.db>, "\x00\x00\x00\x01"..., 24, 0) = 24`, false, "", 0, false},     // not a WAL
	} {
		f, ok := parseLine(c.line)
		if ok != c.ok || f.db != c.db || f.page != c.page || f.commit != c.commit {
			t.Errorf("parseLine(%q) = %+v, %v; want %s page %d commit %v, %v", c.line, f, ok, c.db, c.page, c.commit, c.ok)
		}
	}
}

func TestUnescape(t *testing.T) {
	got, err := unescape(`a\x00\xff\"\\\n`)
	if err != nil || !bytes.Equal(got, []byte{'a', 0, 0xff, '"', '\\', '\n'}) {
		t.Errorf("unescape = %q, %v", got, err)
	}
	for _, bad := range []string{`\`, `\x`, `\xg0`} {
		if _, err := unescape(bad); err == nil {
			t.Errorf("unescape(%q) succeeded", bad)
		}
	}
}

func FuzzUnescape(f *testing.F) {
	f.Add(`\x00\x01ab\"`)
	f.Fuzz(func(t *testing.T, s string) {
		unescape(s) // must not panic
	})
}

func TestRunNeedsFrameHeaders(t *testing.T) {
	log := filepath.Join(t.TempDir(), "trace.txt")
	if err := os.WriteFile(log, []byte("1 openat(AT_FDCWD, \"x\", O_RDONLY) = 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run(log); err == nil || !strings.Contains(err.Error(), "no WAL frame headers") {
		t.Errorf("run on a log without frame headers: %v", err)
	}
	if err := run(filepath.Join(t.TempDir(), "missing.txt")); err == nil {
		t.Error("run on a missing log succeeded")
	}
}
