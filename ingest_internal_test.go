package defacto

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/defacto-dev/defacto/internal/value"
)

// readRecords reads in as IngestReader does: JSON Lines, or one JSON array
// when the first byte that is not white space or a byte order mark is '['.
func readRecords(t *testing.T, in []byte) (recs []record, array bool) {
	br := bufio.NewReader(bytes.NewReader(in))
	first, err := peekNonSpace(br)
	if err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	read := readJSONLines
	if array = first == '['; array {
		read = readJSONArray
	}
	if err := read(br, func(r record) error { recs = append(recs, r); return nil }); err != nil {
		t.Fatalf("reading from memory failed: %v", err)
	}
	return recs, array
}

// FuzzReadRecords checks the record readers on any input: records come
// numbered 0, 1, 2… in order; each is either a JSON object with its bytes or
// a failure, and a failure of input that is not an object keeps its text
// (so a dead letter holds it); JSON Lines give one record per line that is
// not blank, and a JSON array one per element, plus one failure for
// anything after it.
func FuzzReadRecords(f *testing.F) {
	for _, s := range []string{
		"{\"a\":1}\n{\"b\":\n[1]\n\n  {}\n",
		"\xef\xbb\xbf {\"a\":1}\r\n\"x\"",
		"[{\"a\":1}, 2, {\"b\": [",
		"[{\"a\":1}] [{\"b\":2}]",
		"[]", "", "\n\n", "[1,{}]", " [ ] \n", "{\"a\":\"\\u00e9\"}\n\u00a0\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		recs, array := readRecords(t, in)
		for i, r := range recs {
			if r.index != i {
				t.Fatalf("record %d has index %d", i, r.index)
			}
			if r.err == "" {
				if r.val.Kind() != value.KindObject || !json.Valid(r.raw) {
					t.Fatalf("record %d: no failure, but not a JSON object: %q", i, r.raw)
				}
				continue
			}
			if r.raw != nil {
				t.Fatalf("record %d: failure %q keeps raw bytes %q", i, r.err, r.raw)
			}
			if !array && r.text == "" {
				t.Fatalf("record %d: failure %q lost the line's text", i, r.err)
			}
		}
		if array {
			var elems []json.RawMessage
			if json.Unmarshal(in, &elems) == nil && len(recs) != len(elems) {
				t.Fatalf("%d records from an array of %d elements", len(recs), len(elems))
			}
			return
		}
		// JSON Lines: one record per line that is not blank, after what
		// peekNonSpace skips (ASCII white space and byte order marks).
		rest := in
		for len(rest) > 0 {
			if strings.IndexByte(" \t\r\n", rest[0]) >= 0 {
				rest = rest[1:]
			} else if bytes.HasPrefix(rest, []byte("\xef\xbb\xbf")) {
				rest = rest[3:]
			} else {
				break
			}
		}
		lines := 0
		for l := range bytes.SplitSeq(rest, []byte("\n")) {
			if len(bytes.TrimSpace(l)) > 0 {
				lines++
			}
		}
		if len(recs) != lines {
			t.Fatalf("%d records from %d lines that are not blank", len(recs), lines)
		}
	})
}
