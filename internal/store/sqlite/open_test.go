package sqlite

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/defacto-dev/defacto/internal/store"
)

func TestOpenCreatesNamespace(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openTest(t, dir)
	read(t, s, func(tx store.Tx) {
		v, ok, err := tx.Meta(t.Context(), "format_version")
		must(t, err)
		if !ok || v != strconv.Itoa(formatVersion) {
			t.Fatalf("format_version = %q, %v; want %d", v, ok, formatVersion)
		}
	})
	db := rawDB(t, filepath.Join(dir, "defacto.db"))
	rows, err := db.Query(`SELECT name, strict FROM pragma_table_list WHERE schema = 'main' AND type = 'table' AND name NOT LIKE 'sqlite_%'`)
	must(t, err)
	got := map[string]bool{}
	for rows.Next() {
		var n string
		var strict int
		must(t, rows.Scan(&n, &strict))
		got[n] = strict == 1
	}
	rows.Close()
	want := []string{"meta", "definition_versions", "build_state", "ledger", "identity", "entity_ids", "event_entities",
		"merge_log", "erasures", "erased_events", "invalidations", "outbox"}
	for _, n := range want {
		strict, ok := got[n]
		if !ok {
			t.Errorf("table %s missing", n)
		} else if !strict {
			t.Errorf("table %s is not STRICT", n)
		}
	}
	if len(got) != len(want) {
		t.Errorf("tables = %v, want %v", got, want)
	}
	for _, idx := range []string{"definition_versions_active", "ledger_event_id", "ledger_timestamp", "identity_entity_id",
		"event_entities_entity_id", "merge_log_into_entity_id"} {
		var n int
		must(t, db.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = ?`, idx).Scan(&n))
		if n != 1 {
			t.Errorf("index %s missing", idx)
		}
	}
	// Migration 3 dropped two link indexes nothing needs on SQLite.
	for _, idx := range []string{"event_entities_shard_hash", "event_entities_resolved_entity_id"} {
		var n int
		must(t, db.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE name = ?`, idx).Scan(&n))
		if n != 0 {
			t.Errorf("index %s still exists", idx)
		}
	}
	var jm string
	must(t, db.QueryRow(`PRAGMA journal_mode`).Scan(&jm))
	if jm != "wal" {
		t.Errorf("journal_mode = %s, want wal", jm)
	}
}

func TestReopenKeepsData(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openTest(t, dir)
	write(t, s, func(tx store.Tx) { must(t, tx.SetMeta(t.Context(), "salt", "abc")) })
	must(t, s.Close())
	must(t, s.Close()) // idempotent

	s2 := openTest(t, dir)
	read(t, s2, func(tx store.Tx) {
		v, ok, err := tx.Meta(t.Context(), "salt")
		must(t, err)
		if !ok || v != "abc" {
			t.Fatalf("salt = %q, %v after reopen", v, ok)
		}
		_, ok, err = tx.Meta(t.Context(), "nope")
		must(t, err)
		if ok {
			t.Fatal("absent key reported present")
		}
	})
}

func TestOpenEmptyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "defacto.db")
	must(t, os.WriteFile(p, nil, 0o644))
	s := openTest(t, dir)
	read(t, s, func(tx store.Tx) {
		if _, ok, err := tx.Meta(t.Context(), "format_version"); err != nil || !ok {
			t.Fatalf("format_version missing: %v", err)
		}
	})
}

func TestOpenFormatTooNew(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "defacto.db")
	s := openTest(t, dir)
	write(t, s, func(tx store.Tx) {
		must(t, tx.SetMeta(t.Context(), "format_version", strconv.Itoa(formatVersion+1)))
	})
	must(t, s.Close())
	_, err := Open(t.Context(), p, Options{})
	if !errors.Is(err, store.ErrForeign) {
		t.Fatalf("err = %v, want ErrForeign", err)
	}
	if !strings.Contains(err.Error(), "newer") || !strings.Contains(err.Error(), p) {
		t.Errorf("error %q should say the format is newer and name the path", err)
	}
}

func TestOpenForeign(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()

	garbage := filepath.Join(dir, "garbage.db")
	must(t, os.WriteFile(garbage, []byte(strings.Repeat("this is not a database ", 100)), 0o644))
	_, err := Open(t.Context(), garbage, Options{})
	if !errors.Is(err, store.ErrForeign) || !strings.Contains(err.Error(), garbage) {
		t.Errorf("garbage file: err = %v, want ErrForeign naming the path", err)
	}

	other := filepath.Join(dir, "other.db")
	db := rawDB(t, other)
	_, err = db.Exec(`CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)`)
	must(t, err)
	_, err = Open(t.Context(), other, Options{})
	if !errors.Is(err, store.ErrForeign) || !strings.Contains(err.Error(), other) {
		t.Errorf("foreign database: err = %v, want ErrForeign naming the path", err)
	}
	var jm string
	must(t, db.QueryRow(`PRAGMA journal_mode`).Scan(&jm))
	if jm != "delete" {
		t.Errorf("a foreign database was switched to journal mode %s", jm)
	}

	// A table named meta that is not ours.
	meta := filepath.Join(dir, "meta.db")
	db2 := rawDB(t, meta)
	_, err = db2.Exec(`CREATE TABLE meta (a INTEGER)`)
	must(t, err)
	_, err = Open(t.Context(), meta, Options{})
	if !errors.Is(err, store.ErrForeign) {
		t.Errorf("foreign meta table: err = %v, want ErrForeign", err)
	}
}

func TestMigrationsAreOrdered(t *testing.T) {
	t.Parallel()
	if len(migrations) == 0 {
		t.Fatal("no migrations embedded")
	}
	if !slices.IsSortedFunc(migrations, func(a, b migration) int { return a.version - b.version }) {
		t.Fatal("migrations out of order")
	}
}

func TestReadIsReadOnly(t *testing.T) {
	t.Parallel()
	s := openTest(t, t.TempDir())
	err := s.Read(t.Context(), func(tx store.Tx) error { return tx.SetMeta(t.Context(), "k", "v") })
	if err == nil {
		t.Fatal("write in a read transaction succeeded")
	}
}

func TestCommitThenRollback(t *testing.T) {
	t.Parallel()
	s := openTest(t, t.TempDir())
	tx, err := s.Begin(t.Context())
	must(t, err)
	must(t, tx.SetMeta(t.Context(), "k", "v"))
	must(t, tx.Commit())
	if err := tx.Rollback(); err != nil {
		t.Fatalf("Rollback after Commit: %v", err)
	}
	if err := tx.Commit(); err == nil {
		t.Fatal("second Commit succeeded")
	}

	tx, err = s.Begin(t.Context())
	must(t, err)
	must(t, tx.SetMeta(t.Context(), "k", "w"))
	must(t, tx.Rollback())
	read(t, s, func(tx store.Tx) {
		v, _, err := tx.Meta(t.Context(), "k")
		must(t, err)
		if v != "v" {
			t.Fatalf("k = %q after rollback, want v", v)
		}
	})
}
