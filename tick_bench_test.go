package defacto_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/defacto-dev/defacto"
	"github.com/defacto-dev/defacto/internal/procstat"
	"github.com/defacto-dev/defacto/internal/store/sqlite"
)

// BenchmarkTickOnePercentDue measures one Tick when 1% of the entities are
// due: N entities (DEFACTO_BENCH_ENTITIES, default 100000) enter trial on
// 100 different days; each iteration ticks one day further, so exactly N/100
// trials expire per tick while the other 99% keep deadlines in the index.
// The goal is well under 50 ms per tick at 100k entities.
//
// Signups are ingested round-robin over the days, so one day's entities
// are spread evenly over the state and history tables: each tick writes
// about N/100 scattered pages per B-tree it touches, the costly case (a
// stream in time order would put one day's entities next to each other).
// Every tick is checked to have evaluated, fired, changed and written
// exactly N/100 entities and nothing else, and the store is checked after
// the loop, so the benchmark fails instead of timing less work.
func BenchmarkTickOnePercentDue(b *testing.B) {
	ctx := context.Background()
	n, defs, cfg := tickBenchSetup(b)
	due := n / 100
	start := cfg.Clock()
	d, err := defacto.OpenDefinitions(ctx, defs, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	// A tick with nothing due yet, so the loop does not time what only the
	// first call after opening does (attaching the version store, preparing
	// statements).
	if res, err := d.Tick(ctx, start.AddDate(0, 0, 13)); err != nil || res.EntitiesEvaluated != 0 || res.Build != nil {
		b.Fatalf("warm-up tick: %+v %v", res, err)
	}
	// The first day's trials expire on day 14; ticking to the end of day
	// 14+k expires exactly day k's entities.
	day := 0
	m := startMeter()
	for b.Loop() {
		if day >= 100 {
			b.Fatal("more than 100 iterations: run with -benchtime=Nx, N <= 100")
		}
		asOf := start.AddDate(0, 0, 14+day).Add(24*time.Hour - time.Microsecond)
		res, err := d.Tick(ctx, asOf)
		if err != nil {
			b.Fatal(err)
		}
		if res.Build != nil || len(res.Failures) != 0 || res.EntitiesEvaluated != due || res.EntitiesChanged != due ||
			res.RulesFired != due || res.Transitions != due || res.RowsWritten != due {
			b.Fatalf("tick %d: %+v, want %d entities evaluated, changed, fired, moved and written, no build, no failures", day, res, due)
		}
		day++
	}
	m.report(b)
	b.ReportMetric(float64(due), "due/op")
	// The store holds what the ticks reported: day×N/100 expired entities,
	// one new row each.
	expired, err := d.Table("customer").Where("customer_state", "=", "expired").Count(ctx)
	if err != nil {
		b.Fatal(err)
	}
	rows, err := d.History("customer").Count(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if expired != int64(day*due) || rows != int64(n+day*due) {
		b.Fatalf("after %d ticks: %d expired entities, %d history rows; want %d and %d", day, expired, rows, day*due, n+day*due)
	}
}

// meter reports a tick benchmark's CPU time and write system calls per
// iteration: unlike wall time, the write count (WAL frames are two calls
// each, checkpointed pages one) does not move with the machine's load.
type meter struct {
	cpu time.Duration
	io  procstat.IO
}

func startMeter() meter {
	io, _ := procstat.Writes()
	return meter{cpu: procstat.Process(), io: io}
}

func (m meter) report(b *testing.B) {
	b.ReportMetric(float64(procstat.Process()-m.cpu)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
	if io, ok := procstat.Writes(); ok {
		b.ReportMetric(float64(io.Sub(m.io).Writes)/float64(b.N), "writes/op")
	}
}

// tickBenchSetup ingests the entities of the tick benchmarks into a fresh
// database and closes it: n entities (DEFACTO_BENCH_ENTITIES, default
// 100000) sign up round-robin over 100 days. It returns n and what opens
// the database.
func tickBenchSetup(b *testing.B) (int, *defacto.Definitions, *defacto.Config) {
	b.Helper()
	n := 100000
	if s := os.Getenv("DEFACTO_BENCH_ENTITIES"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 100 || n%100 != 0 {
			b.Fatalf("DEFACTO_BENCH_ENTITIES=%q: want a multiple of 100", s)
		}
	}
	ctx := context.Background()
	src, err := os.ReadFile("testdata/tick.yaml") // the tick tests' definitions
	if err != nil {
		b.Fatal(err)
	}
	defs, err := defacto.ParseDefinitions(src)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg := &defacto.Config{
		Database: filepath.Join(b.TempDir(), "tick.db"), BatchSize: 1000,
		Clock: func() time.Time { return start },
	}
	d, err := defacto.OpenDefinitions(ctx, defs, cfg)
	if err != nil {
		b.Fatal(err)
	}
	events := make([]defacto.Event, 0, n)
	for i := range n {
		at := start.AddDate(0, 0, i%100).Add(time.Duration(i/100) * time.Second)
		events = append(events, defacto.Event{"type": "signup", "ts": at.Format(time.RFC3339), "email": fmt.Sprintf("c%d@x.io", i)})
	}
	if res, err := d.Ingest(ctx, "app", events, defacto.Process); err != nil || res.EventsIngested != n {
		b.Fatalf("setup: %+v %v", res, err)
	}
	// Closing checkpoints the WAL: otherwise the first ticks would also
	// copy the ingest's last pages into the database files.
	if err := d.Close(); err != nil {
		b.Fatal(err)
	}
	return n, defs, cfg
}

// BenchmarkTickFloorOnePercentDue is the floor of BenchmarkTickOnePercentDue:
// the same reads and writes in raw SQL on the same database and settings
// (sqlite.WriterSettings), without the engine. Each iteration, in one
// transaction: read the due working states from the deadline index, read
// their open history rows, upsert the states (expired, no deadline), close
// the open rows and insert the expired rows, with the engine's multi-row
// statement shapes. Run both in one command and divide:
//
//	go test -run '^$' -bench 'Tick.*OnePercentDue' -benchtime 5x -count 3 .
func BenchmarkTickFloorOnePercentDue(b *testing.B) {
	ctx := context.Background()
	n, _, cfg := tickBenchSetup(b)
	due := n / 100
	start := cfg.Clock()
	stores, err := filepath.Glob(strings.TrimSuffix(cfg.Database, ".db") + ".*.db")
	if err != nil || len(stores) != 1 {
		b.Fatalf("version store files: %v %v", stores, err)
	}
	db, err := sql.Open("sqlite", "file:"+cfg.Database+"?_txlock=immediate")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `ATTACH ? AS v`, stores[0]); err != nil {
		b.Fatal(err)
	}
	for _, q := range sqlite.WriterSettings("v") {
		if _, err := db.ExecContext(ctx, q); err != nil {
			b.Fatalf("%s: %v", q, err)
		}
	}
	const cols = `customer_id, customer_state, email, valid_from, valid_to, merged_into, last_event_time,
		state_entered_time, created_time, event_sequence, recorded_at`
	// Statements are prepared once, as the engine's statement cache does:
	// a text met inside a transaction is prepared on it (the pool's one
	// connection is busy) and for the pool after it.
	stmts := map[string]*sql.Stmt{}
	var missed []string
	defer func() {
		for _, st := range stmts {
			st.Close()
		}
	}()
	stmt := func(tx *sql.Tx, q string) (*sql.Stmt, error) {
		if st, ok := stmts[q]; ok {
			return tx.StmtContext(ctx, st), nil
		}
		missed = append(missed, q)
		return tx.PrepareContext(ctx, q)
	}
	prepareMissed := func() error {
		for _, q := range missed {
			if _, ok := stmts[q]; !ok {
				st, err := db.PrepareContext(ctx, q)
				if err != nil {
					return err
				}
				stmts[q] = st
			}
		}
		missed = missed[:0]
		return nil
	}
	query := func(tx *sql.Tx, q string, args ...any) (*sql.Rows, error) {
		st, err := stmt(tx, q)
		if err != nil {
			return nil, err
		}
		return st.QueryContext(ctx, args...)
	}
	exec := func(tx *sql.Tx, q string, args ...any) error {
		st, err := stmt(tx, q)
		if err == nil {
			_, err = st.ExecContext(ctx, args...)
		}
		return err
	}
	tick := func(asOf int64) (int, error) {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return 0, err
		}
		defer tx.Rollback()
		rows, err := query(tx, `SELECT entity_id, entity_type, shard_hash, status, data, next_deadline FROM v.entity_state
			WHERE next_deadline IS NOT NULL AND next_deadline <= ? ORDER BY next_deadline, entity_id LIMIT 1001`, asOf)
		if err != nil {
			return 0, err
		}
		type dueState struct {
			id, typ, status, data string
			shard, at             int64
		}
		var ds []dueState
		for rows.Next() {
			var x dueState
			if err := rows.Scan(&x.id, &x.typ, &x.shard, &x.status, &x.data, &x.at); err != nil {
				rows.Close()
				return 0, err
			}
			ds = append(ds, x)
		}
		if err := rows.Close(); err != nil {
			return 0, err
		}
		if len(ds) == 0 {
			return 0, tx.Commit()
		}
		ids := make([]any, len(ds))
		for i, x := range ds {
			ids[i] = x.id
		}
		// The engine's OpenRows: the last current-belief row of each id,
		// if open.
		in := strings.TrimSuffix(strings.Repeat("(?), ", len(ids)), ", ")
		rows, err = query(tx, `SELECT `+cols+` FROM v.customer_history_all
			WHERE superseded_at IS NULL AND valid_to IS NULL AND rowid IN (SELECT (SELECT x.rowid FROM v.customer_history_all AS x
				WHERE x.customer_id = l.column1 AND x.superseded_at IS NULL ORDER BY x.valid_from DESC LIMIT 1)
				FROM (VALUES `+in+`) AS l)`, ids...)
		if err != nil {
			return 0, err
		}
		open := map[string][]any{}
		for rows.Next() {
			r := make([]any, 11)
			ptrs := make([]any, 11)
			for i := range r {
				ptrs[i] = &r[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				return 0, err
			}
			open[r[0].(string)] = r
		}
		if err := rows.Close(); err != nil {
			return 0, err
		}
		var states, closes, inserts []any
		for _, x := range ds {
			r := open[x.id]
			states = append(states, x.id, x.typ, x.shard, x.status, strings.Replace(x.data, `"trial"`, `"expired"`, 1), nil)
			closes = append(closes, x.id, r[3], x.at)
			nr := slices.Clone(r)
			nr[1], nr[3], nr[4], nr[7], nr[9], nr[10] = "expired", x.at, nil, x.at, nil, start.UnixMicro()
			inserts = append(inserts, nr...)
		}
		vals := func(rows, cols int) string {
			one := "(" + strings.TrimSuffix(strings.Repeat("?, ", cols), ", ") + ")"
			return strings.TrimSuffix(strings.Repeat(one+", ", rows), ", ")
		}
		if err := exec(tx, `INSERT INTO v.entity_state (entity_id, entity_type, shard_hash, status, data, next_deadline)
			VALUES `+vals(len(ds), 6)+` ON CONFLICT (entity_id) DO UPDATE SET entity_type = excluded.entity_type,
			shard_hash = excluded.shard_hash, status = excluded.status, data = excluded.data, next_deadline = excluded.next_deadline`,
			states...); err != nil {
			return 0, err
		}
		if err := exec(tx, `UPDATE v.customer_history_all AS h SET valid_to = x.column3 FROM (VALUES `+
			vals(len(ds), 3)+`) AS x WHERE h.customer_id = x.column1 AND h.valid_from = x.column2 AND h.superseded_at IS NULL`,
			closes...); err != nil {
			return 0, err
		}
		if err := exec(tx, `INSERT INTO v.customer_history_all (`+cols+`) VALUES `+vals(len(ds), 11), inserts...); err != nil {
			return 0, err
		}
		return len(ds), tx.Commit()
	}
	if got, err := tick(start.AddDate(0, 0, 13).UnixMicro()); err != nil || got != 0 {
		b.Fatalf("warm-up tick: %d due, %v", got, err)
	}
	if err := prepareMissed(); err != nil {
		b.Fatal(err)
	}
	day := 0
	m := startMeter()
	for b.Loop() {
		if day >= 100 {
			b.Fatal("more than 100 iterations: run with -benchtime=Nx, N <= 100")
		}
		asOf := start.AddDate(0, 0, 14+day).Add(24*time.Hour - time.Microsecond).UnixMicro()
		got, err := tick(asOf)
		if err == nil {
			err = prepareMissed()
		}
		if err != nil || got != due {
			b.Fatalf("tick %d: %d due, %v; want %d", day, got, err, due)
		}
		day++
	}
	m.report(b)
	b.ReportMetric(float64(due), "due/op")
	var expired, openRows int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FILTER (WHERE customer_state = 'expired'),
		count(*) FILTER (WHERE valid_to IS NULL) FROM v.customer_history_all WHERE superseded_at IS NULL`).Scan(&expired, &openRows); err != nil {
		b.Fatal(err)
	}
	if expired != day*due || openRows != n {
		b.Fatalf("after %d ticks: %d expired rows, %d open rows; want %d and %d", day, expired, openRows, day*due, n)
	}
}
