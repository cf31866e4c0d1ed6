package defacto_test

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/defacto-dev/defacto"
	"github.com/defacto-dev/defacto/internal/store/postgres/pgtest"
)

// hookReader serves one line per Read and calls before(i) ahead of line i,
// so a test can act between the chunks of one IngestReader call. Reading
// runs one chunk ahead of the commits, so a hook that must follow a commit
// waits for it to show.
type hookReader struct {
	lines  []string
	i      int
	before func(i int)
}

func (r *hookReader) Read(p []byte) (int, error) {
	if r.i >= len(r.lines) {
		return 0, io.EOF
	}
	if r.before != nil {
		r.before(r.i)
	}
	n := copy(p, r.lines[r.i]+"\n")
	r.i++
	return n, nil
}

// Working states cached between the chunks of one ingest call must not
// survive a write by another connection: here a second engine on the same
// file upgrades the customer between A's chunks, and A's next event must be
// judged against that upgrade (its guard then rejects it).
func TestStateCacheSeesOtherWriters(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		db := filepath.Join(t.TempDir(), "defacto.db")
		testStateCacheSeesOtherWriters(t, defacto.Config{Database: db})
	})
	t.Run("postgres", func(t *testing.T) {
		url := pgtest.URL(t)
		testStateCacheSeesOtherWriters(t, defacto.Config{Database: url, Namespace: pgtest.Namespace(t, url)})
	})
}

func testStateCacheSeesOtherWriters(t *testing.T, cfg defacto.Config) {
	ctx := context.Background()
	ca, cb := cfg, cfg
	ca.BatchSize = 1
	a := openQuickstart(t, &ca)
	b := openQuickstart(t, &cb)
	r := &hookReader{
		lines: []string{
			`{"type": "signup", "timestamp": "2024-01-01T10:00:00Z", "email": "a@x.io"}`,
			`{"type": "upgrade", "timestamp": "2024-01-03T10:00:00Z", "email": "a@x.io", "plan": "basic"}`,
		},
		before: func(i int) {
			if i != 1 {
				return
			}
			// A's first chunk (the signup) commits while this line is read.
			for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
				rows, err := b.Table("customer").Execute(ctx)
				if err == nil && rows.Len() == 1 {
					break
				}
				if time.Now().After(deadline) {
					t.Errorf("engine a's first chunk never showed: %v %v", rows, err)
					return
				}
			}
			res, err := b.Ingest(ctx, "app", []defacto.Event{
				{"type": "upgrade", "timestamp": "2024-01-02T10:00:00Z", "email": "a@x.io", "plan": "basic"},
			}, defacto.Process)
			if err != nil || res.EventsProcessed != 1 {
				t.Errorf("engine b: %+v %v", res, err)
			}
		},
	}
	res, err := a.IngestReader(ctx, "app", r, defacto.Process, nil)
	if err != nil || res.EventsProcessed != 2 {
		t.Fatalf("engine a: %+v %v", res, err)
	}
	rows, err := a.History("customer").OrderBy("valid_from", false).Execute(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, row := range rows.Maps() {
		got = append(got, fmt.Sprintf("%v@%v→%v", row["plan"], row["valid_from"], row["valid_to"]))
	}
	want := []string{
		"free@2024-01-01T10:00:00+00:00→2024-01-02T10:00:00+00:00",
		"basic@2024-01-02T10:00:00+00:00→<nil>",
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("history:\n got %v\nwant %v", got, want)
	}
}
