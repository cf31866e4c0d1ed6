package sqlite

import (
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/defacto-dev/defacto/internal/store"
)

// columns returns the column names of table or view in db, in order.
func columns(t *testing.T, db *sql.DB, name string) []string {
	t.Helper()
	rows, err := db.Query(`SELECT name FROM pragma_table_info(?)`, name)
	must(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		must(t, rows.Scan(&n))
		out = append(out, n)
	}
	return out
}

func TestEnsureVersionStore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openTest(t, dir)
	ensure(t, s, "v1", testSet())
	ensure(t, s, "v1", testSet()) // idempotent
	p := filepath.Join(dir, "defacto.v1.db")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("version store file: %v", err)
	}
	db := rawDB(t, p)
	var jm string
	must(t, db.QueryRow(`PRAGMA journal_mode`).Scan(&jm))
	if jm != "wal" {
		t.Errorf("version store journal_mode = %s", jm)
	}

	want := []string{"customer_id", "customer_state", "name", "visits", "score", "vip", "renewed_at", "valid_from",
		"valid_to", "merged_into", "last_event_time", "state_entered_time", "created_time", "event_sequence",
		"recorded_at", "superseded_at"}
	if got := columns(t, db, "customer_history_all"); !reflect.DeepEqual(got, want) {
		t.Errorf("customer_history_all columns =\n%v\nwant\n%v", got, want)
	}
	if got := columns(t, db, "customer_history"); !reflect.DeepEqual(got, want[:len(want)-1]) {
		t.Errorf("customer_history columns = %v", got)
	}
	wantRel := []string{"source_id", "target_id", "relationship_type", "channel", "weight", "valid_from", "valid_to",
		"event_sequence", "recorded_at", "superseded_at"}
	if got := columns(t, db, "rel_places_history_all"); !reflect.DeepEqual(got, wantRel) {
		t.Errorf("rel_places_history_all columns = %v", got)
	}
	wantRelView := []string{"source_id", "target_id", "original_target_id", "relationship_type", "channel", "weight",
		"valid_from", "valid_to", "event_sequence", "recorded_at"}
	if got := columns(t, db, "rel_places_history"); !reflect.DeepEqual(got, wantRelView) {
		t.Errorf("rel_places_history columns = %v", got)
	}
	wantRels := []string{"source_id", "source_type", "relationship_type", "target_id", "target_type",
		"original_target_id", "valid_from", "valid_to"}
	if got := columns(t, db, "relationships"); !reflect.DeepEqual(got, wantRels) {
		t.Errorf("relationships columns = %v", got)
	}
	for _, tbl := range []string{"merged_ids", "entity_state", "pending_relations", "order_history_all",
		longEntity + "_history_all"} {
		var strict int
		if err := db.QueryRow(`SELECT strict FROM pragma_table_list WHERE name = ?`, tbl).Scan(&strict); err != nil || strict != 1 {
			t.Errorf("table %s: strict=%d err=%v", tbl, strict, err)
		}
	}

	rows, err := db.Query(`SELECT name, tbl_name FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL`)
	must(t, err)
	idx := map[string]string{}
	for rows.Next() {
		var n, tbl string
		must(t, rows.Scan(&n, &tbl))
		idx[n] = tbl
		if len(n) > 63 {
			t.Errorf("index name %s is %d bytes", n, len(n))
		}
	}
	rows.Close()
	if _, ok := idx["customer_history_all_open"]; ok {
		t.Error("index customer_history_all_open exists: OpenRows reads the current index")
	}
	for _, n := range []string{"customer_history_all_current", "customer_history_all_valid_from",
		"customer_history_all_merged_into", "rel_places_history_all_current", "rel_places_history_all_source_open",
		"rel_places_history_all_target_open", "merged_ids_canonical_id", "entity_state_next_deadline",
		"pending_relations_key_hash", indexName(longEntity + "_history_all_merged_into")} {
		if _, ok := idx[n]; !ok {
			t.Errorf("index %s missing; have %v", n, idx)
		}
	}
	long := indexName(longEntity + "_history_all_merged_into")
	if len(long) != 63 || !strings.HasPrefix(long, (longEntity + "_history_all_merged_into")[:54]) {
		t.Errorf("hashed index name %q", long)
	}
	var n int
	must(t, db.QueryRow(`SELECT count(*) FROM relationships`).Scan(&n))
}

// A store made before the open-row index was dropped loses it when it is
// next opened for writing, and OpenRows seeks the unique current index
// once per id instead.
func TestOpenRowIndexDropped(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openTest(t, dir)
	ensure(t, s, "v1", testSet())
	db := rawDB(t, filepath.Join(dir, "defacto.v1.db"))
	if _, err := db.Exec(`CREATE INDEX customer_history_all_open ON customer_history_all (customer_id)
		WHERE superseded_at IS NULL AND valid_to IS NULL`); err != nil {
		t.Fatal(err)
	}
	ensure(t, s, "v1", testSet())
	var n int
	must(t, db.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE name = 'customer_history_all_open'`).Scan(&n))
	if n != 0 {
		t.Error("the open-row index of an older store survived")
	}
	p := queryPlan(t, s, "v1", `SELECT customer_id FROM "v1".customer_history_all
		WHERE superseded_at IS NULL AND valid_to IS NULL AND rowid IN (SELECT (SELECT x.rowid FROM "v1".customer_history_all AS x
			WHERE x.customer_id = v.column1 AND x.superseded_at IS NULL ORDER BY x.valid_from DESC LIMIT 1)
			FROM (VALUES ('a'), ('b')) AS v)`)
	if !strings.Contains(p, "customer_history_all_current (customer_id=?)") || strings.Contains(p, "SCAN customer_history_all") ||
		strings.Contains(p, "TEMP B-TREE") {
		t.Errorf("plan = %s, want one search of the current index per id and rowid lookups", p)
	}
}

func TestRelationshipsViewWithoutRelationships(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openTest(t, dir)
	ensure(t, s, "plain", plainSet())
	rows, err := s.Query(t.Context(), "plain", `SELECT * FROM `+s.Dialect().Table("plain", "relationships"))
	must(t, err)
	cols, err := rows.Columns()
	must(t, err)
	if rows.Next() {
		t.Error("relationships view not empty")
	}
	rows.Close()
	if len(cols) != 8 || cols[0] != "source_id" || cols[7] != "valid_to" {
		t.Errorf("columns = %v", cols)
	}
}

func TestVersionStoreGuards(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openTest(t, dir)
	ensure(t, s, "v1", plainSet())
	ctx := t.Context()

	other := plainSet()
	other.ContentHash = "different"
	tx, err := s.Begin(ctx)
	must(t, err)
	defer tx.Rollback()
	if err := tx.EnsureVersionStore(ctx, "v1", other); !errors.Is(err, store.ErrForeign) {
		t.Errorf("store for other definitions: err = %v, want ErrForeign", err)
	}
	for _, bad := range []string{"main", "temp", "Bad", `x"y`, ""} {
		if err := tx.EnsureVersionStore(ctx, bad, plainSet()); err == nil {
			t.Errorf("version name %q accepted", bad)
		}
	}
	if _, err := tx.States(ctx, "missing", []string{"a"}); !errors.Is(err, errNoStore) {
		t.Errorf("States of a missing store: err = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "defacto.missing.db")); !errors.Is(err, os.ErrNotExist) {
		t.Error("reading a missing store created its file")
	}
}

func TestVersionStoreAfterReopen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openTest(t, dir)
	set := plainSet()
	ensure(t, s, "v1", set)
	ent := set.Entity("thing")
	write(t, s, func(tx store.Tx) {
		must(t, tx.PutStates(t.Context(), "v1", []store.StateRecord{{EntityID: "t1", EntityType: "thing",
			Status: store.StatusActive, Data: []byte(`{"state":"new"}`), NextDeadline: store.NoTime}}))
		must(t, tx.WriteHistory(t.Context(), "v1", ent, &store.HistoryWrite{EntityID: "t1", Now: 5,
			Insert: []store.HistoryRow{row("t1", 10, store.NoTime, nil)}}))
	})
	must(t, s.Close())

	s2 := openTest(t, dir)
	read(t, s2, func(tx store.Tx) {
		st, err := tx.States(t.Context(), "v1", []string{"t1"})
		must(t, err)
		if string(st["t1"].Data) != `{"state":"new"}` || st["t1"].NextDeadline != store.NoTime {
			t.Errorf("state after reopen = %+v", st["t1"])
		}
		open, err := tx.OpenRows(t.Context(), "v1", ent, []string{"t1"})
		must(t, err)
		if open["t1"].ValidFrom != 10 {
			t.Errorf("open row after reopen = %+v", open["t1"])
		}
	})
	// The writer attaches on demand too.
	write(t, s2, func(tx store.Tx) {
		must(t, tx.PutStates(t.Context(), "v1", []store.StateRecord{{EntityID: "t2", EntityType: "thing",
			Status: store.StatusActive, Data: []byte(`{}`), NextDeadline: 7}}))
	})
	rows, err := s2.Query(t.Context(), "v1", `SELECT count(*) FROM `+s2.Dialect().Table("v1", "thing_history")+` WHERE "thing_id" = $1`, "t1")
	must(t, err)
	defer rows.Close()
	var n int
	if !rows.Next() {
		t.Fatal("no row")
	}
	must(t, rows.Scan(&n))
	if n != 1 {
		t.Errorf("count = %d", n)
	}
}
