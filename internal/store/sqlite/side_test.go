package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/defacto-dev/defacto/internal/store"
)

// A pipelined commit is visible once settled. A store write that fails
// behind it leaves the main file's rows committed, is reported once, stops
// the transaction that would build on it, and leaves the store exactly one
// commit behind: BuildState then returns the build record from before that
// commit, so the next build redoes it. A plain Commit waits for the queued
// writes, so the same failure commits nothing.
func TestCommitPipelined(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openTest(t, dir)
	ctx := t.Context()
	set := plainSet()
	ent := set.Entity("thing")
	ensure(t, s, "v1", set)
	build := func(cursor int64) *store.BuildState {
		return &store.BuildState{Version: "v1", TotalShards: 1, Cursor: cursor, Built: true, TickHorizon: store.NoTime, LastBuildTime: store.NoTime}
	}
	pipelined := func(f func(store.Tx) error) error {
		t.Helper()
		tx, err := s.Begin(ctx)
		must(t, err)
		defer tx.Rollback()
		if err := f(tx); err != nil {
			return err
		}
		return tx.(store.PipelinedCommitter).CommitPipelined()
	}
	counts := func() (ledger, history int) {
		t.Helper()
		read(t, s, func(tx store.Tx) {
			n, err := tx.CountLive(ctx, "", true)
			must(t, err)
			ledger = int(n)
			rows, err := tx.CurrentRows(ctx, "v1", ent, "t1")
			must(t, err)
			history = len(rows)
		})
		return
	}
	state := func() *store.BuildState {
		t.Helper()
		var b *store.BuildState
		write(t, s, func(tx store.Tx) {
			var err error
			b, err = tx.BuildState(ctx, "v1", 0)
			must(t, err)
		})
		return b
	}
	check := func(what string, ledger, history int, cursor int64, dirty bool) {
		t.Helper()
		if l, h := counts(); l != ledger || h != history {
			t.Fatalf("%s: %d ledger rows, %d history rows; want %d and %d", what, l, h, ledger, history)
		}
		if b := state(); b.Cursor != cursor || b.Dirty != dirty {
			t.Fatalf("%s: build state cursor %d dirty %v; want %d and %v", what, b.Cursor, b.Dirty, cursor, dirty)
		}
	}
	dup := &store.HistoryWrite{EntityID: "t1", Now: 2, Insert: []store.HistoryRow{row("t1", 10, store.NoTime, nil)}}

	must(t, pipelined(func(tx store.Tx) error {
		must(t, tx.Append(ctx, []store.LedgerRow{ev("e1", "app", 1)}))
		must(t, tx.WriteHistory(ctx, "v1", ent, &store.HistoryWrite{EntityID: "t1", Now: 1,
			Insert: []store.HistoryRow{row("t1", 10, store.NoTime, nil)}}))
		return tx.PutBuildState(ctx, build(5))
	}))
	must(t, s.Settle(ctx))
	check("after a settled pipelined commit", 1, 1, 5, false)
	var firstMark string
	must(t, rawDB(t, filepath.Join(dir, "defacto.v1.db")).QueryRow(`SELECT "value" FROM store_meta WHERE "key" = 'mark'`).Scan(&firstMark))

	// A second current row at valid_from 10 breaks the unique index: the
	// queued write fails after the main file committed.
	must(t, pipelined(func(tx store.Tx) error {
		must(t, tx.Append(ctx, []store.LedgerRow{ev("e2", "app", 2)}))
		must(t, tx.PutBuildState(ctx, build(9)))
		return tx.WriteHistory(ctx, "v1", ent, dup)
	}))
	// The next transaction that writes the store stops: at Begin if the
	// failure is already known, else when its side begins.
	err := failedWrite(t, s, func(tx store.Tx) error {
		return tx.PutStates(ctx, "v1", []store.StateRecord{{EntityID: "t1", EntityType: "thing",
			Status: store.StatusActive, Data: []byte(`{}`), NextDeadline: store.NoTime}})
	})
	if err == nil {
		t.Fatal("a transaction after a failed store commit succeeded")
	}
	must(t, s.Settle(ctx)) // reported once
	check("after the failed store commit", 2, 1, 5, false)

	// A plain commit brings the files together and drops the undo record:
	// a store behind it is dirty.
	write(t, s, func(tx store.Tx) { must(t, tx.PutBuildState(ctx, build(9))) })
	check("after a plain commit", 2, 1, 9, false)
	_, err = rawDB(t, filepath.Join(dir, "defacto.v1.db")).Exec(`UPDATE store_meta SET "value" = ? WHERE "key" = 'mark'`, firstMark)
	must(t, err)
	check("with the store behind a plain commit", 2, 1, 9, true)
	write(t, s, func(tx store.Tx) { must(t, tx.PutBuildState(ctx, build(9))) })

	if err := failedWrite(t, s, func(tx store.Tx) error {
		must(t, tx.Append(ctx, []store.LedgerRow{ev("e3", "app", 3)}))
		return tx.WriteHistory(ctx, "v1", ent, dup)
	}); err == nil {
		t.Fatal("Commit of a failed store write succeeded")
	}
	check("after a failed Commit", 2, 1, 9, false)
}
