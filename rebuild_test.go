package defacto

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/defacto-dev/defacto/internal/store"
)

// A full rebuild under unchanged definitions reproduces every row, so it
// must leave every working state as stored: rev counts committed changes of
// an entity's rows (interpretation.md §1), and nothing changed. A late event
// that does change rows raises rev by one.
func TestFullRebuildKeepsRev(t *testing.T) {
	ctx := context.Background()
	defs, err := LoadDefinitions("examples/quickstart")
	if err != nil {
		t.Fatal(err)
	}
	e, err := OpenDefinitions(ctx, defs, &Config{
		Database: filepath.Join(t.TempDir(), "defacto.db"),
		Clock:    func() time.Time { return time.Date(2024, 3, 15, 0, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ingest := func(evs ...Event) {
		t.Helper()
		if res, err := e.Ingest(ctx, "app", evs, Process); err != nil || res.EventsFailed > 0 {
			t.Fatalf("ingest: %+v %v", res, err)
		}
	}
	ingest(
		Event{"type": "signup", "timestamp": "2024-01-01T00:00:00Z", "email": "a@x.io"},
		Event{"type": "signup", "timestamp": "2024-01-02T00:00:00Z", "email": "b@x.io"},
	)
	ingest(Event{"type": "upgrade", "timestamp": "2024-01-05T00:00:00Z", "email": "a@x.io", "plan": "pro"})
	states := func() map[string]store.StateRecord {
		t.Helper()
		var got map[string]store.StateRecord
		if err := e.st.Read(ctx, func(tx store.Tx) error {
			ids, err := tx.StoredEntities(ctx, e.act().version)
			if err != nil {
				return err
			}
			var list []string
			for id := range ids {
				list = append(list, id)
			}
			got, err = tx.States(ctx, e.act().version, list)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 {
			t.Fatalf("%d working states, want 2", len(got))
		}
		return got
	}
	revOf := func(r store.StateRecord) int64 {
		s, err := decodeState(r.Data, r.EntityID, r.EntityType)
		if err != nil {
			t.Fatal(err)
		}
		return s.Rev
	}
	before := states()
	res, err := e.Build(ctx, BuildOptions{Full: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.RowsWritten != 0 || res.RowsSuperseded != 0 {
		t.Fatalf("full rebuild wrote %d rows and superseded %d; want none", res.RowsWritten, res.RowsSuperseded)
	}
	after := states()
	for id, b := range before {
		if a := after[id]; !bytes.Equal(a.Data, b.Data) || a.NextDeadline != b.NextDeadline {
			t.Errorf("%s: working state changed by a rebuild that changed no row:\n before %s\n after  %s", id, b.Data, a.Data)
		}
	}

	// A late upgrade of b changes b's rows: its rev goes up by one, a's not.
	ingest(Event{"type": "upgrade", "timestamp": "2024-01-03T00:00:00Z", "email": "b@x.io", "plan": "pro"},
		Event{"type": "cancel", "timestamp": "2024-01-04T00:00:00Z", "email": "b@x.io"})
	ingest(Event{"type": "upgrade", "timestamp": "2024-01-02T12:00:00Z", "email": "b@x.io", "plan": "basic"})
	final := states()
	for id, a := range after {
		f := final[id]
		if bytes.Equal(f.Data, a.Data) {
			if revOf(f) != revOf(a) {
				t.Errorf("%s: rev moved without a change", id)
			}
			continue
		}
		if revOf(f) <= revOf(a) {
			t.Errorf("%s: rows changed but rev stayed %d", id, revOf(f))
		}
	}
}
