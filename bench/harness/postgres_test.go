package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/defacto-dev/defacto/internal/store/postgres/pgtest"
)

// TestMain lets the test binary act as a shard process: RunPostgres
// re-executes os.Executable() with -shard-child, as the harness does.
func TestMain(m *testing.M) {
	flag.Parse()
	if *shardChild >= 0 {
		if err := runShardChild(context.Background(), ""); err != nil {
			fmt.Fprintln(os.Stderr, "shard child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// A small pass through every PostgreSQL measurement; skipped when the
// server (pgtest.DefaultURL or DEFACTO_TEST_DATABASE_URL) is unreachable.
func TestPostgresEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short")
	}
	url := pgtest.URL(t)
	ctx := context.Background()
	defs, err := LoadProject("")
	if err != nil {
		t.Fatal(err)
	}
	w := Generate(Params{Events: 200, Customers: 50, Merges: 2, LateShare: 0.05, Batch: 100})
	rep, err := RunPostgres(ctx, defs, w, url, 2, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.ProcRes.MergesDetected != w.Merges {
		t.Errorf("merges detected %d, generated %d", rep.ProcRes.MergesDetected, w.Merges)
	}
	if rep.Floor.Chunks != 2 || rep.Floor.Rows < 2*len(w.Events) {
		t.Errorf("floor: %d rows in %d chunks (%v)", rep.Floor.Rows, rep.Floor.Chunks, rep.FloorRows)
	}
	if pf := rep.PatternFloor; pf.Rows != rep.Floor.Rows || pf.ByTable["customer_history_all (closes)"] == 0 || pf.ByTable["entity_state (upserts)"] == 0 {
		t.Errorf("pattern floor: %d rows (floor %d), %v", pf.Rows, rep.Floor.Rows, pf.ByTable)
	}
	if len(rep.Rounds) != 2 || (rep.Build1 != rep.Rounds[0][0] && rep.Build1 != rep.Rounds[1][0]) ||
		(rep.BuildN != rep.Rounds[0][1] && rep.BuildN != rep.Rounds[1][1]) {
		t.Fatalf("rounds %v, median runs %p %p", rep.Rounds, rep.Build1, rep.BuildN)
	}
	if len(rep.Build1.Children) != 1 || len(rep.BuildN.Children) != pgShards {
		t.Fatalf("shard processes: %d and %d", len(rep.Build1.Children), len(rep.BuildN.Children))
	}
	sum := 0
	for _, c := range rep.BuildN.Children {
		if c.Processed == 0 {
			t.Errorf("shard %d processed nothing", c.Shard)
		}
		sum += c.Created
	}
	if one := rep.Build1.Children[0].Created; sum != one {
		t.Errorf("shards created %d entities, one process %d", sum, one)
	}
	// Every namespace of the run is gone.
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, ns := range rep.Namespaces {
		var left int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_namespace WHERE nspname = $1 OR left(nspname, $2) = $3`,
			ns, len(ns)+1, ns+"_").Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left != 0 {
			t.Errorf("namespace %s: %d schemas left", ns, left)
		}
	}
	printPGReport(testWriter{t}, rep)
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// pgSameStores tells schemas with equal rows from schemas whose rows differ,
// json columns included.
func TestPGSameStores(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	ns := pgtest.Namespace(t, url)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	a, b := ns+"_a", ns+"_b"
	for _, q := range []string{
		`CREATE SCHEMA ` + a, `CREATE SCHEMA ` + b,
		`CREATE TABLE ` + a + `.t (id text, d json)`, `CREATE TABLE ` + b + `.t (id text, d json)`,
		`INSERT INTO ` + a + `.t VALUES ('x', '{"k": 1}'), ('y', NULL)`,
		`INSERT INTO ` + b + `.t VALUES ('y', NULL), ('x', '{"k": 1}')`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() {
		for _, sc := range []string{a, b} {
			conn.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+sc+` CASCADE`)
		}
	})
	if err := pgSameStores(ctx, url, a, b); err != nil {
		t.Errorf("same rows in another order: %v", err)
	}
	if _, err := conn.Exec(ctx, `UPDATE `+b+`.t SET d = '{"k": 2}' WHERE id = 'x'`); err != nil {
		t.Fatal(err)
	}
	if err := pgSameStores(ctx, url, a, b); err == nil {
		t.Error("a changed json value went unnoticed")
	}
	if err := pgSameStores(ctx, url, ns+"_none", b); err == nil {
		t.Error("a schema without tables compared equal")
	}
}
