package sqlite

import (
	"errors"
	"testing"

	"github.com/defacto-dev/defacto/internal/store"
	"github.com/defacto-dev/defacto/internal/value"
)

func TestQuery(t *testing.T) {
	t.Parallel()
	s := openTest(t, t.TempDir())
	ctx := t.Context()
	set := plainSet()
	ensure(t, s, "v1", set)
	write(t, s, func(tx store.Tx) {
		must(t, tx.WriteHistory(ctx, "v1", set.Entity("thing"), &store.HistoryWrite{EntityID: "t1", Now: 1,
			Insert: []store.HistoryRow{row("t1", 1_700_000_000_000_000, store.NoTime, []value.Value{value.Int(7)})}}))
	})
	d := s.Dialect()
	if d.Placeholder(3) != "$3" || d.Quote(`a"b`) != `"a""b"` || d.Table("v1", "x") != `"v1"."x"` || !d.InstantsAsMicros() {
		t.Fatal("dialect")
	}
	// $N binds the N-th argument, whatever the order of appearance.
	q := `SELECT "thing_id", defacto_iso("valid_from"), "n" FROM ` + d.Table("v1", "thing_history") +
		` WHERE "n" = $2 AND "thing_id" = $1 AND "valid_from" >= defacto_ts($3)`
	rows, err := s.Query(ctx, "v1", q, "t1", 7, "2023-11-14")
	must(t, err)
	if !rows.Next() {
		t.Fatalf("no row: %v", rows.Err())
	}
	var id, iso string
	var n int64
	must(t, rows.Scan(&id, &iso, &n))
	rows.Close()
	if id != "t1" || iso != "2023-11-14T22:13:20+00:00" || n != 7 {
		t.Errorf("got %s %s %d", id, iso, n)
	}

	if _, err := s.Query(ctx, "v1", `DELETE FROM "v1"."thing_history_all"`); err == nil {
		t.Error("a DELETE ran through Query")
	} else {
		// The error may also surface on the first Next.
		t.Log(err)
	}
	rows, err = s.Query(ctx, "v1", `INSERT INTO "v1"."merged_ids" VALUES ('a', 'b', 'c', 'd', 1) RETURNING 1`)
	if err == nil {
		rows.Next()
		if rows.Err() == nil {
			t.Error("an INSERT ran through Query")
		}
		rows.Close()
	}
	if _, err := s.Query(ctx, "nope", `SELECT 1`); !errors.Is(err, errNoStore) {
		t.Errorf("query of a missing version: %v", err)
	}

	// Connections go back to the pool: many sequential queries never block.
	for range 50 {
		rows, err := s.Query(ctx, "v1", `SELECT 1`)
		must(t, err)
		rows.Close()
	}
}

func TestParseInstant(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{
		"1970-01-01T00:00:01Z":             1_000_000,
		"1970-01-01T01:00:01+01:00":        1_000_000,
		"1970-01-01T00:00:01.5":            1_500_000,
		"1970-01-02":                       86_400_000_000,
		"1970-01-01 00:00:00.000001":       1,
		"1970-01-01T00:00:00.000001+00:00": 1,
	} {
		got, err := parseInstant(in)
		if err != nil || got != want {
			t.Errorf("parseInstant(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := parseInstant("yesterday"); err == nil {
		t.Error("parseInstant accepted junk")
	}
}
