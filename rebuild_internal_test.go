package defacto

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/defacto-dev/defacto/internal/store"
)

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
	victim := ids(ref)[3*size+3] // in the fourth group
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
