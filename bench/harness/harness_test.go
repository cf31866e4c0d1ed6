package main

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/defacto-dev/defacto"
)

// Benchmark sizes; the command (go run ./bench/harness) is the tool for the
// 100k-event numbers, these keep one iteration to seconds.
var (
	benchEvents    = flag.Int("harness.events", 10_000, "events of the benchmark workload")
	benchCustomers = flag.Int("harness.customers", 2_000, "customers of the benchmark workload")
)

func TestGenerateDeterministic(t *testing.T) {
	p := Params{Events: 3000, Customers: 500, Seed: 7}
	a, b := Generate(p), Generate(p)
	if !reflect.DeepEqual(a.Events, b.Events) {
		t.Fatal("same seed, different events")
	}
	p.Seed = 8
	if c := Generate(p); reflect.DeepEqual(a.Events, c.Events) {
		t.Fatal("different seeds, same events")
	}
	if len(a.Events) != 3000 || a.ByType["signup"] != 500 {
		t.Fatalf("%d events, %d signups; want 3000, 500", len(a.Events), a.ByType["signup"])
	}
	if a.Merges != 9 || a.ByType["profile_update"] != 9 {
		t.Errorf("%d merges, %d profile updates; want 9 (3 per 1000 events)", a.Merges, a.ByType["profile_update"])
	}
	if a.Late == 0 || a.Late > 60 {
		t.Errorf("%d late events; want about 1%% of 3000", a.Late)
	}
	ids := map[any]bool{}
	for i, ev := range a.Events {
		if ids[ev["id"]] {
			t.Fatalf("event %d: duplicate id %v", i, ev["id"])
		}
		ids[ev["id"]] = true
	}
	if a.Events[0]["type"] != "signup" {
		t.Errorf("first event is %v, want a signup", a.Events[0]["type"])
	}
}

// TestWorkloadEndToEnd runs a tiny workload through every measurement, so
// the definitions, the generator and the floor's schema copy stay in step
// with the engine.
func TestWorkloadEndToEnd(t *testing.T) {
	ctx := context.Background()
	defs, err := LoadProject("")
	if err != nil {
		t.Fatal(err)
	}
	w := Generate(Params{Events: 400, Customers: 100, Merges: 4, LateShare: 0.05, Batch: 100})
	dir := t.TempDir()
	run, err := RunProcess(ctx, defs, w, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := run.Result.MergesDetected; got != w.Merges {
		t.Errorf("merges detected %d, generated %d", got, w.Merges)
	}
	if run.Result.LateArrivals == 0 {
		t.Error("no late arrivals")
	}
	snap, err := ReadSnapshot(ctx, dir, w.Params.Batch)
	if err != nil {
		t.Fatal(err)
	}
	if snap.LedgerRows != 400 || snap.Chunks != 4 {
		t.Errorf("snapshot: %d ledger rows in %d chunks, want 400 in 4", snap.LedgerRows, snap.Chunks)
	}
	prag, err := ReadEnginePragmas(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if prag.Main["journal_mode"] != "wal" || prag.Store["journal_mode"] != "wal" {
		t.Errorf("engine pragmas: %s", prag)
	}
	plainDir, patDir := t.TempDir(), t.TempDir()
	fr, err := Floor(ctx, snap, plainDir, FloorOptions{}, prag, "floor")
	if err != nil {
		t.Fatal(err)
	}
	if fr.Rows != snap.Rows() {
		t.Errorf("floor inserted %d rows, snapshot has %d", fr.Rows, snap.Rows())
	}
	pr, err := Floor(ctx, snap, patDir, FloorOptions{Pattern: true}, prag, "floor-pattern")
	if err != nil {
		t.Fatal(err)
	}
	if pr.Rows != fr.Rows {
		t.Errorf("pattern floor wrote %d rows, plain floor %d", pr.Rows, fr.Rows)
	}
	// The pattern's extra writes end where the plain floor starts: the
	// same final rows, after closes and upserts that did happen.
	if pr.ByTable["bench.customer_history_all (closes)"] == 0 || pr.ByTable["bench.entity_state (upserts)"] == 0 {
		t.Errorf("pattern floor made no closes or upserts: %v", pr.ByTable)
	}
	a, b := strings.Split(dumpFloor(t, plainDir), "\n"), strings.Split(dumpFloor(t, patDir), "\n")
	for i := range max(len(a), len(b)) {
		if i >= len(a) || i >= len(b) || a[i] != b[i] {
			t.Errorf("pattern floor ends with other rows than the plain floor, from row %d of %d/%d:\nplain   %q\npattern %q",
				i, len(a), len(b), a[min(i, len(a)-1)], b[min(i, len(b)-1)])
			break
		}
	}
	// Split across two connections, the pattern floor ends with the same
	// rows too.
	splitDir := t.TempDir()
	sr, err := Floor(ctx, snap, splitDir, FloorOptions{Pattern: true, Split: true}, prag, "floor-split")
	if err != nil {
		t.Fatal(err)
	}
	if sr.Rows != fr.Rows {
		t.Errorf("split pattern floor wrote %d rows, plain floor %d", sr.Rows, fr.Rows)
	}
	if c := dumpFloor(t, splitDir); c != strings.Join(a, "\n") {
		t.Errorf("split pattern floor ends with other rows than the plain floor")
	}
	app, err := RunAppend(ctx, defs, w, t.TempDir(), true)
	if err != nil {
		t.Fatal(err)
	}
	if app.TickRes.EntitiesEvaluated == 0 {
		t.Error("tick evaluated no entity")
	}
}

func benchWorkload(b *testing.B) (*defacto.Definitions, *Workload) {
	b.Helper()
	defs, err := LoadProject("")
	if err != nil {
		b.Fatal(err)
	}
	return defs, Generate(Params{Events: *benchEvents, Customers: *benchCustomers})
}

// reportRate reports events per second of timed work.
func reportRate(b *testing.B, events int, timed time.Duration) {
	if timed > 0 {
		b.ReportMetric(float64(events)*float64(b.N)/timed.Seconds(), "events/s")
	}
}

func benchIngest(b *testing.B, mode defacto.IngestMode) {
	ctx := context.Background()
	defs, w := benchWorkload(b)
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		e, err := OpenEngine(ctx, defs, b.TempDir(), w.Params)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		res, err := e.Ingest(ctx, Source, w.Events, mode)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if err := checkIngest(res, len(w.Events)); err != nil {
			b.Fatal(err)
		}
		e.Close()
		b.StartTimer()
	}
	reportRate(b, len(w.Events), b.Elapsed())
}

// BenchmarkIngestProcess: Ingest with Process on a fresh database.
func BenchmarkIngestProcess(b *testing.B) { benchIngest(b, defacto.Process) }

// BenchmarkIngestAppendOnly: Ingest with AppendOnly on a fresh database.
func BenchmarkIngestAppendOnly(b *testing.B) { benchIngest(b, defacto.AppendOnly) }

// BenchmarkBuildIncremental: the Build after an AppendOnly ingest.
func BenchmarkBuildIncremental(b *testing.B) {
	ctx := context.Background()
	defs, w := benchWorkload(b)
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		e, err := OpenEngine(ctx, defs, b.TempDir(), w.Params)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.Build(ctx, defacto.BuildOptions{}); err != nil {
			b.Fatal(err)
		}
		if _, err := e.Ingest(ctx, Source, w.Events, defacto.AppendOnly); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		res, err := e.Build(ctx, defacto.BuildOptions{})
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if res.Mode != defacto.ModeIncremental {
			b.Fatalf("build mode %s, want %s", res.Mode, defacto.ModeIncremental)
		}
		e.Close()
		b.StartTimer()
	}
	reportRate(b, len(w.Events), b.Elapsed())
}

// processedDir ingests w with Process into a new directory.
func processedDir(b *testing.B, defs *defacto.Definitions, w *Workload) string {
	b.Helper()
	dir := b.TempDir()
	if _, err := RunProcess(context.Background(), defs, w, dir, nil); err != nil {
		b.Fatal(err)
	}
	return dir
}

// BenchmarkBuildFull: a full rebuild of a processed database.
func BenchmarkBuildFull(b *testing.B) {
	ctx := context.Background()
	defs, w := benchWorkload(b)
	dir := processedDir(b, defs, w)
	e, err := OpenEngine(ctx, defs, dir, w.Params)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	b.ResetTimer()
	for b.Loop() {
		if _, err := e.Build(ctx, defacto.BuildOptions{Full: true}); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, len(w.Events), b.Elapsed())
}

// BenchmarkTick: Tick at the workload's end plus 180 days, after a
// Process ingest.
func BenchmarkTick(b *testing.B) {
	ctx := context.Background()
	defs, w := benchWorkload(b)
	b.ResetTimer()
	evaluated := 0
	for b.Loop() {
		b.StopTimer()
		e, err := OpenEngine(ctx, defs, b.TempDir(), w.Params)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.Ingest(ctx, Source, w.Events, defacto.Process); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		res, err := e.Tick(ctx, w.End.Add(180*24*time.Hour))
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		evaluated = res.EntitiesEvaluated
		e.Close()
		b.StartTimer()
	}
	if b.Elapsed() > 0 {
		b.ReportMetric(float64(evaluated)*float64(b.N)/b.Elapsed().Seconds(), "entities/s")
	}
}

// BenchmarkFloor: the raw insert of the rows a Process ingest leaves.
func BenchmarkFloor(b *testing.B) {
	ctx := context.Background()
	defs, w := benchWorkload(b)
	dir := processedDir(b, defs, w)
	snap, err := ReadSnapshot(ctx, dir, w.Params.Batch)
	if err != nil {
		b.Fatal(err)
	}
	prag, err := ReadEnginePragmas(ctx, dir)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		f, err := PrepareFloor(ctx, snap, b.TempDir(), FloorOptions{}, prag)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := f.Insert(ctx); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		f.Close()
		b.StartTimer()
	}
	reportRate(b, snap.LedgerRows, b.Elapsed())
}

// BenchmarkLedgerScan: SELECT every ledger row and json-decode its data.
func BenchmarkLedgerScan(b *testing.B) {
	ctx := context.Background()
	defs, w := benchWorkload(b)
	dir := processedDir(b, defs, w)
	db, err := openOne(DBPath(dir), true)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	n := 0
	b.ResetTimer()
	for b.Loop() {
		if n, err = scanLedger(ctx, db); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, n, b.Elapsed())
}

// dumpFloor renders every row of the history and working-state tables of the
// floor database pair in dir, sorted, for comparison.
func dumpFloor(t *testing.T, dir string) string {
	t.Helper()
	db, err := openOne(filepath.Join(dir, "floor.db"), true)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`ATTACH ? AS `+Version, filepath.Join(dir, "floor."+Version+".db")); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, q := range []string{
		`SELECT * FROM ` + Version + `.customer_history_all ORDER BY 1, valid_from, superseded_at`,
		`SELECT * FROM ` + Version + `.entity_state ORDER BY 1`,
	} {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals, err := scanAny(rows, len(cols))
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprint(vals...))
		}
		rows.Close()
	}
	if len(out) == 0 {
		t.Fatal("floor holds no rows")
	}
	return strings.Join(out, "\n")
}

func TestMedianRun(t *testing.T) {
	run := func(s int) *ShardRun { return &ShardRun{Wall: time.Duration(s) * time.Second} }
	rounds := [][2]*ShardRun{{run(5), run(3)}, {run(4), run(9)}, {run(6), run(2)}}
	if got := medianRun(rounds, 0).Wall; got != 5*time.Second {
		t.Errorf("median of 5, 4, 6 = %v", got)
	}
	if got := medianRun(rounds, 1).Wall; got != 3*time.Second {
		t.Errorf("median of 3, 9, 2 = %v", got)
	}
	if got := medianRun(rounds[:2], 1).Wall; got != 3*time.Second {
		t.Errorf("median of 3, 9 = %v, want the faster middle one", got)
	}
}
