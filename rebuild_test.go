package defacto

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/defacto-dev/defacto/internal/store"
	"github.com/defacto-dev/defacto/internal/value"
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

// A full rebuild reads each group ahead, from a read snapshot it keeps
// across groups. When another connection commits in the middle of the
// build (here an erasure, by another engine on the same file, between two
// groups), every later group must be read from a snapshot that shows that
// commit: the result equals the erasure followed by the rebuild.
func TestFullRebuildSeesCommitsBetweenGroups(t *testing.T) {
	ctx := context.Background()
	defs, err := LoadDefinitions("examples/quickstart")
	if err != nil {
		t.Fatal(err)
	}
	salt := bytes.Repeat([]byte{7}, 32)
	clock := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	open := func(db string) *Engine {
		e, err := OpenDefinitions(ctx, defs, &Config{Database: db, Salt: salt, Clock: func() time.Time { return clock }})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = e.Close() })
		return e
	}
	var events []Event
	for i := range 50 {
		email := fmt.Sprintf("c%02d@example.com", i)
		day := time.Date(2024, 1, 1+i%28, 10, 0, 0, 0, time.UTC)
		events = append(events,
			Event{"type": "signup", "timestamp": day.Format(time.RFC3339), "email": email},
			Event{"type": "upgrade", "timestamp": day.Add(48 * time.Hour).Format(time.RFC3339), "email": email, "plan": "pro"})
	}
	const size = 10 // five groups
	// ids lists the entities in the order the rebuild groups them.
	ids := func(e *Engine) []string {
		var out []string
		err := e.st.Read(ctx, func(tx store.Tx) error {
			ents, err := tx.AllEntities(ctx)
			for _, r := range ents {
				out = append(out, r.ID)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	dump := func(e *Engine) string {
		var b bytes.Buffer
		for _, q := range []*Query{e.Table("customer"), e.History("customer")} {
			rows, err := q.Execute(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := rows.WriteJSON(&b); err != nil {
				t.Fatal(err)
			}
		}
		return b.String()
	}

	// Reference: the erasure, then the rebuild.
	ref := open(filepath.Join(t.TempDir(), "ref.db"))
	if _, err := ref.Ingest(ctx, "app", events, Process); err != nil {
		t.Fatal(err)
	}
	// In the fourth group: the second, read ahead before the erasure, is
	// discarded, the third is read inside its own transaction, and the
	// fourth is the first read ahead after the erasure, from the snapshot
	// that must have moved on.
	victim := ids(ref)[3*size+3]
	if _, err := ref.Erase(ctx, victim); err != nil {
		t.Fatal(err)
	}
	ref.groupSize = size
	if _, err := ref.Build(ctx, BuildOptions{Full: true}); err != nil {
		t.Fatal(err)
	}
	want := dump(ref)

	// The same erasure, committed by another engine after the rebuild's
	// first group, when the second group has been read ahead already.
	db := filepath.Join(t.TempDir(), "defacto.db")
	a := open(db)
	if _, err := a.Ingest(ctx, "app", events, Process); err != nil {
		t.Fatal(err)
	}
	if got := ids(a)[3*size+3]; got != victim {
		t.Fatalf("victim %s, reference's %s: ids differ", got, victim)
	}
	b := open(db)
	a.groupSize = size
	// The erasure truncates the WAL after it commits, which waits until the
	// build's read-ahead leaves its snapshot: it runs beside the build, and
	// the build goes on once the erasure is committed.
	erased := make(chan error, 1)
	a.afterGroup = func(i int) {
		if i != 0 {
			return
		}
		go func() {
			_, err := b.Erase(ctx, victim)
			erased <- err
		}()
		for {
			var rec *store.Erasure
			err := b.st.Read(ctx, func(tx store.Tx) (err error) {
				rec, err = tx.ErasureOf(ctx, victim)
				return err
			})
			if err != nil {
				t.Error(err)
				return
			}
			if rec != nil {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}
	res, err := a.Build(ctx, BuildOptions{Full: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-erased; err != nil {
		t.Fatalf("erase during the build: %v", err)
	}
	if res.Mode != ModeFull {
		t.Fatalf("mode %s, want FULL", res.Mode)
	}
	if got := dump(a); got != want {
		t.Errorf("rebuild with an erasure between its groups:\n%s\nwant (erasure, then rebuild):\n%s", got, want)
	}
}

// A full build retires the ids its version store holds but the ledger no
// longer produces, and counts them; a later full build finds nothing left
// to retire. (Ids are derived from identity keys, so a stale id takes a
// store built from another ledger; here one is written directly.)
func TestFullBuildRetiresGoneIDs(t *testing.T) {
	ctx := context.Background()
	defs, err := LoadDefinitions("examples/quickstart")
	if err != nil {
		t.Fatal(err)
	}
	e, err := OpenDefinitions(ctx, defs, &Config{Database: filepath.Join(t.TempDir(), "defacto.db"),
		Clock: func() time.Time { return time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if _, err := e.Ingest(ctx, "app", []Event{{"type": "signup", "timestamp": "2024-01-01T00:00:00Z", "email": "a@x.io"}}, Process); err != nil {
		t.Fatal(err)
	}
	// ghost is gone from the ledger's entities; newcomer is too when the
	// build lists its entities, but another connection registers it before
	// the build retires anything: it must be kept.
	const ghost, newcomer = "00000000-0000-8000-8000-000000000000", "00000000-0000-8000-8000-000000000001"
	if err := e.write(ctx, "test: stale state", func(tx store.Tx) error {
		at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
		for _, id := range []string{ghost, newcomer} {
			row := store.HistoryRow{EntityID: id, State: "active", Props: make([]value.Value, 2), ValidFrom: at,
				ValidTo: store.NoTime, LastEventTime: at, StateEnteredTime: at, CreatedTime: at}
			if err := tx.WriteHistory(ctx, e.act().version, e.act().defs.Entity("customer"),
				&store.HistoryWrite{EntityID: id, Now: at, Insert: []store.HistoryRow{row}}); err != nil {
				return err
			}
			if err := tx.PutStates(ctx, e.act().version, []store.StateRecord{{EntityID: id, EntityType: "customer",
				Status: store.StatusActive, Data: []byte(`{}`), NextDeadline: store.NoTime}}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	e.afterGroup = func(int) {
		e.afterGroup = nil
		if err := e.write(ctx, "test: register newcomer", func(tx store.Tx) error {
			return tx.InsertEntities(ctx, []store.EntityRecord{{ID: newcomer, Type: "customer", BirthSeq: 1,
				Status: store.StatusActive}})
		}); err != nil {
			t.Error(err)
		}
	}
	res, err := e.Build(ctx, BuildOptions{Full: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.EntitiesRetired != 1 {
		t.Errorf("full build retired %d entities, want 1 (ghost)", res.EntitiesRetired)
	}
	if err := e.st.Read(ctx, func(tx store.Tx) error {
		st, err := tx.States(ctx, e.act().version, []string{ghost, newcomer})
		if _, ok := st[newcomer]; !ok || len(st) != 1 {
			t.Errorf("working states after the build: %v; want newcomer's only", st)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if res, err = e.Build(ctx, BuildOptions{Full: true}); err != nil {
		t.Fatal(err)
	}
	if res.EntitiesRetired != 0 {
		t.Errorf("second full build retired %d entities, want none", res.EntitiesRetired)
	}
	if n, err := e.Table("customer").Count(ctx); err != nil || n != 1 {
		t.Errorf("%d customers (%v), want 1", n, err)
	}
}

// An incremental build carries working states from one step to the next
// (the state cache) only while no other connection commits. Here another
// engine redacts a customer between two steps; the second step, which
// applies that customer's next event, must start from the redacted state,
// or it writes the unmasked email into the new current row.
func TestIncrementalBuildSeesCommitsBetweenSteps(t *testing.T) {
	ctx := context.Background()
	defs, err := LoadDefinitions("examples/showcase")
	if err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "defacto.db")
	open := func() *Engine {
		e, err := OpenDefinitions(ctx, defs, &Config{Database: db,
			Clock: func() time.Time { return time.Date(2024, 1, 3, 0, 0, 0, 0, time.UTC) }})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = e.Close() })
		return e
	}
	a, b := open(), open()
	// The customer's signup falls in the build's first step (buildStep
	// events), its subscription in the second.
	events := []Event{{"type": "signup", "timestamp": "2024-01-01T10:00:00Z", "email": "alice@example.com", "phone": "+1-555-0001"}}
	for i := range int(a.buildStep()) - 1 {
		events = append(events, Event{"type": "signup", "timestamp": "2024-01-01T11:00:00Z",
			"email": fmt.Sprintf("f%04d@example.com", i), "phone": fmt.Sprintf("+1-555-%04d", 1000+i)})
	}
	events = append(events, Event{"type": "subscribe", "timestamp": "2024-01-02T09:00:00Z", "email": "alice@example.com",
		"plan": "pro", "mrr": 49})
	if _, err := a.Ingest(ctx, "app", events, AppendOnly); err != nil {
		t.Fatal(err)
	}
	steps := 0
	a.afterGroup = func(int) {
		steps++
		if steps != 1 {
			return
		}
		alice, err := b.Lookup(ctx, "customer", "alice@example.com", "")
		if err != nil {
			t.Errorf("lookup between steps: %v", err)
			return
		}
		if _, err := b.Redact(ctx, alice); err != nil {
			t.Errorf("redact between steps: %v", err)
		}
	}
	res, err := a.Build(ctx, BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Mode != ModeIncremental || steps < 2 {
		t.Fatalf("mode %s in %d steps: the test did not run as planned", res.Mode, steps)
	}
	rows, err := a.Table("customer").Where("plan", "=", "pro").Execute(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rows.Len() != 1 {
		t.Fatalf("%d pro customers, want 1", rows.Len())
	}
	if got := rows.Value(0, "email"); got == "alice@example.com" {
		t.Errorf("current row after the redaction and the next step carries the unmasked email %v", got)
	}
}
