package sqlite

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/defacto-dev/defacto/internal/store"
	"github.com/defacto-dev/defacto/internal/value"
)

func TestTornCommitReportsDirty(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openTest(t, dir)
	ctx := t.Context()
	set := plainSet()
	ensure(t, s, "v1", set)
	bs := &store.BuildState{Version: "v1", TotalShards: 1, Cursor: 5, Built: true, TickHorizon: store.NoTime, LastBuildTime: store.NoTime}
	write(t, s, func(tx store.Tx) {
		must(t, tx.WriteHistory(ctx, "v1", set.Entity("thing"), &store.HistoryWrite{EntityID: "t1", Now: 1,
			Insert: []store.HistoryRow{row("t1", 10, store.NoTime, nil)}}))
		must(t, tx.PutBuildState(ctx, bs))
	})
	dirty := func() bool {
		var d bool
		read(t, s, func(tx store.Tx) {
			b, err := tx.BuildState(ctx, "v1", 0)
			must(t, err)
			d = b.Dirty
		})
		return d
	}
	if dirty() {
		t.Fatal("consistent store reported dirty")
	}
	// Simulate a crash between the two file commits: the version store
	// misses the last transaction's mark.
	db := rawDB(t, filepath.Join(dir, "defacto.v1.db"))
	_, err := db.Exec(`UPDATE store_meta SET "value" = 'older' WHERE "key" = 'mark'`)
	must(t, err)
	if !dirty() {
		t.Fatal("torn commit not reported dirty")
	}
	// The next build's commit brings the marks together again.
	write(t, s, func(tx store.Tx) { must(t, tx.PutBuildState(ctx, bs)) })
	if dirty() {
		t.Fatal("store still dirty after a build committed")
	}
	// A deleted store file is dirty too.
	must(t, s.Close())
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(filepath.Join(dir, "defacto.v1.db"+suffix))
	}
	s = openTest(t, dir)
	if !dirty() {
		t.Fatal("missing store not reported dirty")
	}
}

// After an erase-like delete and AfterErase, the deleted bytes are in no
// file: not the databases, not their WALs (privacy.md §5).
func TestAfterEraseLeavesNoBytes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openTest(t, dir)
	ctx := t.Context()
	set := testSet()
	ensure(t, s, "v1", set)
	const secret = "zanzibar-secret-4711"
	five := []value.Value{value.String(secret), value.Null, value.Null, value.Null, value.Null}
	write(t, s, func(tx store.Tx) {
		r := ev("e1", "shop", 1)
		r.Data = []byte(`{"email":"` + secret + `"}`)
		must(t, tx.Append(ctx, []store.LedgerRow{r}))
		must(t, tx.InsertKeys(ctx, []store.KeyRecord{{Hash: "k", EntityType: "customer", Field: "email", EntityID: "c1",
			Value: secret, HasValue: true, CreatedSeq: 1}}))
		must(t, tx.WriteHistory(ctx, "v1", set.Entity("customer"), &store.HistoryWrite{EntityID: "c1", Now: 1,
			Insert: []store.HistoryRow{row("c1", 10, store.NoTime, five)}}))
	})
	write(t, s, func(stx store.Tx) {
		x := stx.(*tx)
		for _, q := range []string{`DELETE FROM ledger`, `DELETE FROM identity`} {
			_, err := x.tx.ExecContext(ctx, q)
			must(t, err)
		}
		_, err := storeTx(t, stx, "v1").ExecContext(ctx, `DELETE FROM "v1"."customer_history_all"`)
		must(t, err)
	})
	must(t, s.AfterErase(ctx))
	files, err := filepath.Glob(filepath.Join(dir, "*"))
	must(t, err)
	for _, f := range files {
		b, err := os.ReadFile(f)
		must(t, err)
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("%s still contains the erased value", f)
		}
		if strings.HasSuffix(f, "-wal") && len(b) != 0 {
			t.Errorf("%s not truncated (%d bytes)", f, len(b))
		}
	}
}
