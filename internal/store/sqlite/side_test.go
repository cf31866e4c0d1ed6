package sqlite

import (
	"testing"

	"github.com/defacto-dev/defacto/internal/store"
)

// A pipelined commit is visible once settled, and a store write that fails
// behind it leaves the main file's rows committed, reports the failure
// once, fails the transaction that would build on it, and leaves the
// version dirty until a build commits both files again.
func TestCommitPipelined(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openTest(t, dir)
	ctx := t.Context()
	set := plainSet()
	ent := set.Entity("thing")
	ensure(t, s, "v1", set)
	bs := &store.BuildState{Version: "v1", TotalShards: 1, Cursor: 5, Built: true, TickHorizon: store.NoTime, LastBuildTime: store.NoTime}
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
	dirty := func() bool {
		t.Helper()
		var d bool
		write(t, s, func(tx store.Tx) {
			b, err := tx.BuildState(ctx, "v1", 0)
			must(t, err)
			d = b.Dirty
		})
		return d
	}

	must(t, pipelined(func(tx store.Tx) error {
		must(t, tx.Append(ctx, []store.LedgerRow{ev("e1", "app", 1)}))
		must(t, tx.WriteHistory(ctx, "v1", ent, &store.HistoryWrite{EntityID: "t1", Now: 1,
			Insert: []store.HistoryRow{row("t1", 10, store.NoTime, nil)}}))
		return tx.PutBuildState(ctx, bs)
	}))
	must(t, s.Settle(ctx))
	if l, h := counts(); l != 1 || h != 1 {
		t.Fatalf("after a settled pipelined commit: %d ledger rows, %d history rows; want 1 and 1", l, h)
	}
	if dirty() {
		t.Fatal("consistent store reported dirty")
	}

	// A second current row at valid_from 10 breaks the unique index: the
	// queued write fails after the main file committed.
	must(t, pipelined(func(tx store.Tx) error {
		must(t, tx.Append(ctx, []store.LedgerRow{ev("e2", "app", 2)}))
		return tx.WriteHistory(ctx, "v1", ent, &store.HistoryWrite{EntityID: "t1", Now: 2,
			Insert: []store.HistoryRow{row("t1", 10, store.NoTime, nil)}})
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
	if l, h := counts(); l != 2 || h != 1 {
		t.Fatalf("after the failed store commit: %d ledger rows, %d history rows; want 2 and 1", l, h)
	}
	if !dirty() {
		t.Fatal("a failed store commit left the version clean")
	}
	write(t, s, func(tx store.Tx) { must(t, tx.PutBuildState(ctx, bs)) })
	if dirty() {
		t.Fatal("store still dirty after a build committed")
	}

	// A plain Commit waits for the queued writes: the same failure commits
	// nothing in either file.
	if err := failedWrite(t, s, func(tx store.Tx) error {
		must(t, tx.Append(ctx, []store.LedgerRow{ev("e3", "app", 3)}))
		return tx.WriteHistory(ctx, "v1", ent, &store.HistoryWrite{EntityID: "t1", Now: 3,
			Insert: []store.HistoryRow{row("t1", 10, store.NoTime, nil)}})
	}); err == nil {
		t.Fatal("Commit of a failed store write succeeded")
	}
	if l, h := counts(); l != 2 || h != 1 {
		t.Fatalf("after a failed Commit: %d ledger rows, %d history rows; want 2 and 1", l, h)
	}
	if dirty() {
		t.Fatal("a failed Commit left the version dirty")
	}
}
