package main

// PostgreSQL mode (-postgres URL): the Process ingest against its COPY
// floor, and Build on one process against two shard processes. Every
// measurement runs in a fresh namespace bench_<hex>, dropped (with its
// version store and scratch schemas, <ns>_*) when the run ends, also on
// error or interrupt.

import (
	"bufio"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/defacto-dev/defacto"
)

var (
	pgURL = flag.String("postgres", "", "run the PostgreSQL measurements on the server at `url` (Process vs COPY floor, 1 vs 2 shard processes)")
	// shardRounds repeats the shard-scaling builds: single builds of a few
	// seconds swing by 30% or more on a shared machine.
	shardRounds = flag.Int("shard-rounds", 3, "rounds of the PostgreSQL shard-scaling builds (1 and 2 processes, alternately); the median is reported")
	// Internal: set when the harness re-executes itself as one shard
	// process of measurement 3 (hidden from -h).
	shardChild = flag.Int("shard-child", -1, "internal: run Build as shard `id` and print the result as JSON")
	shardNS    = flag.String("shard-ns", "", "internal: namespace of -shard-child")
	shardBatch = flag.Int("shard-batch", 0, "internal: BatchSize of -shard-child")
	shardTotal = flag.Int("shard-total", 0, "internal: TotalShards of -shard-child")
)

var internalFlags = map[string]bool{"shard-child": true, "shard-ns": true, "shard-total": true}

func init() {
	flag.Usage = func() {
		out := flag.CommandLine.Output()
		fmt.Fprintf(out, "Usage of %s:\n", os.Args[0])
		flag.VisitAll(func(f *flag.Flag) {
			if internalFlags[f.Name] {
				return
			}
			name, usage := flag.UnquoteUsage(f)
			line := "  -" + f.Name
			if name != "" {
				line += " " + name
			}
			fmt.Fprintf(out, "%s\n    \t%s", line, strings.ReplaceAll(usage, "\n", "\n    \t"))
			if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" {
				fmt.Fprintf(out, " (default %q)", f.DefValue)
			}
			fmt.Fprintln(out)
		})
	}
}

// pgShards is the shard count of measurement 3.
const pgShards = 2

// newNamespace returns a fresh namespace name, bench_<16 hex>.
func newNamespace() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return "bench_" + hex.EncodeToString(b[:])
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// dropNamespace drops the schema ns and every schema <ns>_* (version stores,
// the floor's scratch schemas). It runs on its own context, so it works
// after the run's context was cancelled.
func dropNamespace(url, ns string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT nspname FROM pg_namespace WHERE nspname = $1 OR left(nspname, $2) = $3`,
		ns, len(ns)+1, ns+"_")
	if err != nil {
		return err
	}
	schemas, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	for _, sc := range schemas {
		if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+quoteIdent(sc)+` CASCADE`); err != nil {
			return fmt.Errorf("drop schema %s: %w", sc, err)
		}
	}
	return nil
}

// OpenPGEngine opens an engine on namespace ns of the server at url, with
// the harness's clock (p.Start), salt and version name and p's BatchSize.
// total 0 means unsharded.
func OpenPGEngine(ctx context.Context, defs *defacto.Definitions, url, ns string, shard, total int, p Params) (*defacto.Engine, error) {
	p = p.withDefaults()
	return defacto.OpenDefinitions(ctx, defs, &defacto.Config{
		Database:    url,
		Namespace:   ns,
		Version:     Version,
		Clock:       func() time.Time { return p.Start },
		Salt:        salt,
		ShardID:     shard,
		TotalShards: total,
		BatchSize:   p.Batch,
	})
}

// PGReport is the result of the PostgreSQL measurements.
type PGReport struct {
	Events  int
	Process Span
	ProcRes *defacto.IngestResult
	Floor   *FloorResult
	// PatternFloor is the COPY floor plus the write pattern (pattern.go).
	PatternFloor *FloorResult
	// FloorRows is the row count per copied table, "schema.table".
	FloorRows map[string]int
	// Shard scaling: the AppendOnly ingests that fill the namespaces of the
	// first round, and the builds of one process (TotalShards 1) and of
	// pgShards processes: Rounds holds every round, run alternately on a
	// fresh pair of namespaces each; Build1 and BuildN are the runs of
	// median wall time among them.
	Append1, AppendN Span
	Rounds           [][2]*ShardRun
	Build1, BuildN   *ShardRun
	// Namespaces are the namespaces the run made (all dropped when
	// RunPostgres returns).
	Namespaces []string
}

// ShardRun is one parallel set of shard processes running Build.
type ShardRun struct {
	// Wall runs from starting the first process to the exit of the last
	// one (process start, LoadDefinitions and Open included); BuildWall is
	// the longest Build call inside them.
	Wall, BuildWall time.Duration
	CPU             time.Duration // sum of the children's CPU time during Build
	// Busy and Steal are the machine's busy CPUs and the CPUs the
	// hypervisor took, on average over Wall (machineLoad).
	Busy, Steal float64
	Children    []ShardChildResult
}

// ShardChildResult is what a -shard-child process prints.
type ShardChildResult struct {
	Shard, Total int
	Open         time.Duration // LoadDefinitions + Open
	Build, CPU   time.Duration
	Mode         string
	Processed    int
	Created      int
	Recomputed   int
	RowsWritten  int
	// Timing is the Build's own phase timing (identity catch-up, which
	// the shards of a namespace run one at a time, and interpretation).
	Timing defacto.BuildTiming
}

// RunPostgres runs the PostgreSQL measurements of w on the server at url,
// with rounds (at least 1) rounds of the shard-scaling builds.
// progress, when not nil, receives a line per finished step.
// When cpuProfile is set, a CPU profile of the Process ingest (run 1) is
// written to it.
func RunPostgres(ctx context.Context, defs *defacto.Definitions, w *Workload, url string, rounds int, cpuProfile io.Writer, progress func(string, ...any)) (rep *PGReport, err error) {
	if progress == nil {
		progress = func(string, ...any) {}
	}
	var (
		mu         sync.Mutex
		namespaces []string
	)
	fresh := func() string {
		ns := newNamespace()
		mu.Lock()
		namespaces = append(namespaces, ns)
		mu.Unlock()
		return ns
	}
	defer func() {
		for _, ns := range namespaces {
			if derr := dropNamespace(url, ns); derr != nil {
				err = errors.Join(err, fmt.Errorf("drop namespace %s: %w", ns, derr))
			}
		}
	}()
	rep = &PGReport{Events: len(w.Events)}
	n := len(w.Events)
	defer func() {
		if rep != nil {
			rep.Namespaces = slices.Clone(namespaces)
		}
	}()

	// 1. Process ingest.
	ns := fresh()
	e, err := OpenPGEngine(ctx, defs, url, ns, 0, 0, w.Params)
	if err != nil {
		return nil, err
	}
	if cpuProfile != nil {
		if err := pprof.StartCPUProfile(cpuProfile); err != nil {
			return nil, err
		}
	}
	rep.Process, err = timed(func() error {
		rep.ProcRes, err = e.Ingest(ctx, Source, w.Events, defacto.Process)
		return err
	})
	if cpuProfile != nil {
		pprof.StopCPUProfile()
	}
	if err == nil {
		err = checkIngest(rep.ProcRes, n)
	}
	if cerr := e.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("ingest process: %w", err)
	}
	progress("Process ingest done: %.2fs", rep.Process.Wall.Seconds())

	// 2. COPY floor of the rows run 1 left.
	src, err := readPGSource(ctx, url, ns, w.Params.Batch)
	if err != nil {
		return nil, fmt.Errorf("floor: read back: %w", err)
	}
	rep.FloorRows = src.counts
	if rep.Floor, err = pgFloor(ctx, url, ns, src, false); err != nil {
		return nil, fmt.Errorf("floor: %w", err)
	}
	progress("floor done: %.2fs", rep.Floor.Wall.Seconds())
	if rep.PatternFloor, err = pgFloor(ctx, url, ns, src, true); err != nil {
		return nil, fmt.Errorf("pattern floor: %w", err)
	}
	progress("pattern floor done: %.2fs", rep.PatternFloor.Wall.Seconds())
	if err := pgSameStores(ctx, url, ns+"_floor_"+Version, ns+"_pfloor_"+Version); err != nil {
		return nil, fmt.Errorf("pattern floor: %w", err)
	}

	// 3. Shard scaling.
	fill := func(ns string, total int) (Span, error) {
		engines := make([]*defacto.Engine, total)
		defer func() {
			for _, e := range engines {
				if e != nil {
					e.Close()
				}
			}
		}()
		for i := range engines {
			e, err := OpenPGEngine(ctx, defs, url, ns, i, total, w.Params)
			if err != nil {
				return Span{}, err
			}
			engines[i] = e
			// An empty build per shard, so the timed one is incremental.
			if _, err := e.Build(ctx, defacto.BuildOptions{}); err != nil {
				return Span{}, fmt.Errorf("initial build of shard %d: %w", i, err)
			}
		}
		var res *defacto.IngestResult
		sp, err := timed(func() error {
			res, err = engines[0].Ingest(ctx, Source, w.Events, defacto.AppendOnly)
			return err
		})
		if err != nil {
			return sp, err
		}
		if err := checkIngest(res, n); err != nil {
			return sp, err
		}
		for i, e := range engines {
			engines[i] = nil
			if err := e.Close(); err != nil {
				return sp, err
			}
		}
		return sp, nil
	}
	// The rounds alternate 1 and pgShards processes, so a change in the
	// machine's load falls on both sides.
	for r := range max(rounds, 1) {
		ns1, nsN := fresh(), fresh()
		a1, err := fill(ns1, 1)
		if err != nil {
			return nil, fmt.Errorf("append-only ingest (1 shard): %w", err)
		}
		aN, err := fill(nsN, pgShards)
		if err != nil {
			return nil, fmt.Errorf("append-only ingest (%d shards): %w", pgShards, err)
		}
		if r == 0 {
			rep.Append1, rep.AppendN = a1, aN
			progress("append-only ingests done: %.2fs, %.2fs", a1.Wall.Seconds(), aN.Wall.Seconds())
		}
		var round [2]*ShardRun
		if round[0], err = runShards(ctx, url, ns1, 1, w.Params.Batch); err != nil {
			return nil, fmt.Errorf("build, 1 process: %w", err)
		}
		if round[1], err = runShards(ctx, url, nsN, pgShards, w.Params.Batch); err != nil {
			return nil, fmt.Errorf("build, %d processes: %w", pgShards, err)
		}
		rep.Rounds = append(rep.Rounds, round)
		progress("builds, round %d: 1 process %.2fs, %d processes %.2fs", r+1, round[0].Wall.Seconds(), pgShards, round[1].Wall.Seconds())
		// The round's namespaces are not read again: drop them now, so
		// later rounds run on a server holding what the first did.
		for _, ns := range []string{ns1, nsN} {
			if err := dropNamespace(url, ns); err != nil {
				return nil, fmt.Errorf("drop namespace %s: %w", ns, err)
			}
		}
	}
	rep.Build1, rep.BuildN = medianRun(rep.Rounds, 0), medianRun(rep.Rounds, 1)
	return rep, nil
}

// runShards starts total shard processes of the harness binary on ns at
// once and waits for all of them.
func runShards(ctx context.Context, url, ns string, total, batch int) (*ShardRun, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmds := make([]*exec.Cmd, total)
	outs := make([]*strings.Builder, total)
	errs := make([]*strings.Builder, total)
	for i := range cmds {
		cmds[i] = exec.CommandContext(ctx, exe, "-postgres", url, "-shard-ns", ns,
			"-shard-total", strconv.Itoa(total), "-shard-child", strconv.Itoa(i), "-shard-batch", strconv.Itoa(batch))
		outs[i], errs[i] = &strings.Builder{}, &strings.Builder{}
		cmds[i].Stdout, cmds[i].Stderr = outs[i], errs[i]
	}
	run := &ShardRun{}
	load := startMachineLoad()
	t0 := time.Now()
	for i, c := range cmds {
		if err := c.Start(); err != nil {
			for _, c := range cmds[:i] {
				c.Process.Kill()
				c.Wait()
			}
			return nil, err
		}
	}
	var werr error
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			werr = errors.Join(werr, fmt.Errorf("shard %d: %w: %s", i, err, strings.TrimSpace(errs[i].String())))
		}
	}
	run.Wall = time.Since(t0)
	run.Busy, run.Steal = load.stop()
	if werr != nil {
		return nil, werr
	}
	for i := range cmds {
		var r ShardChildResult
		if err := json.Unmarshal([]byte(strings.TrimSpace(outs[i].String())), &r); err != nil {
			return nil, fmt.Errorf("shard %d output %q: %w", i, outs[i].String(), err)
		}
		if r.Mode != string(defacto.ModeIncremental) {
			return nil, fmt.Errorf("shard %d of %d ran mode %s, want %s", i, total, r.Mode, defacto.ModeIncremental)
		}
		run.BuildWall = max(run.BuildWall, r.Build)
		run.CPU += r.CPU
		run.Children = append(run.Children, r)
	}
	return run, nil
}

// medianRun returns the run of median wall time among side i (0: one
// process, 1: pgShards processes) of rounds; with an even count, the
// faster of the middle two.
func medianRun(rounds [][2]*ShardRun, i int) *ShardRun {
	runs := make([]*ShardRun, len(rounds))
	for r, round := range rounds {
		runs[r] = round[i]
	}
	slices.SortFunc(runs, func(a, b *ShardRun) int { return cmp.Compare(a.Wall, b.Wall) })
	return runs[(len(runs)-1)/2]
}

// runShardChild is the -shard-child process: it opens shard *shardChild of
// *shardTotal on *shardNS, runs Build and prints a ShardChildResult.
func runShardChild(ctx context.Context, project string) error {
	if *pgURL == "" || *shardNS == "" || *shardTotal <= 0 {
		return errors.New("-shard-child needs -postgres, -shard-ns and -shard-total")
	}
	t0 := time.Now()
	defs, err := LoadProject(project)
	if err != nil {
		return err
	}
	e, err := OpenPGEngine(ctx, defs, *pgURL, *shardNS, *shardChild, *shardTotal, Params{Batch: *shardBatch})
	if err != nil {
		return err
	}
	defer e.Close()
	r := ShardChildResult{Shard: *shardChild, Total: *shardTotal, Open: time.Since(t0)}
	var res *defacto.BuildResult
	sp, err := timed(func() error {
		res, err = e.Build(ctx, defacto.BuildOptions{})
		return err
	})
	if err != nil {
		return err
	}
	r.Build, r.CPU = sp.Wall, sp.CPU
	r.Mode, r.Processed, r.Created = string(res.Mode), res.EventsProcessed, res.EntitiesCreated
	r.Recomputed, r.RowsWritten, r.Timing = res.EntitiesRecomputed, res.RowsWritten, res.Timing
	if err := e.Close(); err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(r)
}

// pgTable is one table of the namespace copied by the floor, with its rows
// grouped by the chunk (transaction) of the ledger row that produced them.
type pgTable struct {
	src, dst pgx.Identifier // dst: set per floor (pgFloor)
	cols     []string
	types    []string // per column, as information_schema names them
	chunks   map[int][][]any
	rows     int
}

// pgChunkExpr says which ledger sequence produced a row of table in schema
// (the PostgreSQL form of chunkExpr); NULL means the last chunk.
func pgChunkExpr(ns, schema, table string) string {
	switch {
	case table == "ledger" || table == "event_entities":
		return `"sequence"`
	case table == "identity":
		return `created_seq`
	case table == "entity_ids":
		return `birth_seq`
	case table == "merge_log":
		return `merge_seq`
	case table == "entity_state":
		return `(data->>'last_applied_seq')::bigint`
	case table == "merged_ids":
		return `(SELECT m.merge_seq FROM ` + quoteIdent(ns) + `.merge_log m WHERE m.from_entity_id = t.entity_id)`
	case strings.HasSuffix(table, "_history_all"):
		return historyChunkExpr(quoteIdent(schema)+"."+quoteIdent(table), quoteIdent(strings.TrimSuffix(table, "_history_all")+"_id"))
	case table == "pending_relations":
		return `event_sequence`
	}
	return `NULL`
}

// pgSource is what the COPY floors write: the rows the Process run left in
// the tables that carry data, by chunk, ledger first, then the other main
// tables, then the version store (the order the engine writes in).
type pgSource struct {
	tables  []*pgTable
	nchunks int
	batch   int            // ledger rows per chunk
	counts  map[string]int // rows per table, "schema.table"
}

// readPGSource reads the floors' rows from namespace ns once.
func readPGSource(ctx context.Context, url, ns string, batch int) (*pgSource, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	store := ns + "_" + Version
	var head int64
	if err := conn.QueryRow(ctx, `SELECT coalesce(max("sequence"), 0) FROM `+quoteIdent(ns)+`.ledger`).Scan(&head); err != nil {
		return nil, err
	}
	src := &pgSource{nchunks: max(1, int((head+int64(batch)-1)/int64(batch))), batch: batch, counts: map[string]int{}}
	rows, err := conn.Query(ctx, `SELECT table_schema, table_name FROM information_schema.tables
		WHERE table_type = 'BASE TABLE' AND table_schema = ANY($1) ORDER BY table_schema = $2 DESC, table_name`,
		[]string{ns, store}, ns)
	if err != nil {
		return nil, err
	}
	type ref struct{ schema, name string }
	refs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ref, error) {
		var x ref
		return x, r.Scan(&x.schema, &x.name)
	})
	if err != nil {
		return nil, err
	}
	mainTables := map[string]bool{"ledger": true, "identity": true, "entity_ids": true, "event_entities": true, "merge_log": true}
	for _, r := range refs {
		copied := (r.schema == ns && mainTables[r.name]) ||
			(r.schema == store && (r.name == "entity_state" || r.name == "merged_ids" || r.name == "pending_relations" ||
				strings.HasSuffix(r.name, "_history_all")))
		if !copied {
			continue
		}
		t, err := readPGTable(ctx, conn, ns, r.schema, r.name, src.nchunks, src.batch)
		if err != nil {
			return nil, fmt.Errorf("read %s.%s: %w", r.schema, r.name, err)
		}
		if t.rows == 0 {
			continue
		}
		src.counts[r.schema+"."+r.name] = t.rows
		src.tables = append(src.tables, t)
	}
	slices.SortStableFunc(src.tables, func(a, b *pgTable) int {
		rank := func(t *pgTable) int {
			switch {
			case t.src[1] == "ledger":
				return 0
			case t.src[0] == ns:
				return 1
			}
			return 2
		}
		return rank(a) - rank(b)
	})
	return src, nil
}

// pgFloor creates empty copies of the source tables (LIKE … INCLUDING ALL)
// in two scratch schemas, <ns>_floor and <ns>_floor_<version> (pfloor for
// the pattern floor), and times writing src's rows into them: one
// transaction per Params.Batch ledger rows plus the rows they produced, one
// CopyFrom per table and chunk, on one connection; with pattern, also the
// closes and working-state upserts of pgpattern.go.
func pgFloor(ctx context.Context, url, ns string, src *pgSource, pattern bool) (*FloorResult, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	kind := "floor"
	if pattern {
		kind = "pfloor"
	}
	dstSchema := map[string]string{ns: ns + "_" + kind, ns + "_" + Version: ns + "_" + kind + "_" + Version}
	for _, sc := range dstSchema {
		if _, err := conn.Exec(ctx, `CREATE SCHEMA `+quoteIdent(sc)); err != nil {
			return nil, err
		}
	}
	// This floor's copies of the source tables, writing to its schemas.
	tables := make([]*pgTable, len(src.tables))
	for i, t := range src.tables {
		c := *t
		c.dst = pgx.Identifier{dstSchema[t.src[0]], t.src[1]}
		tables[i] = &c
	}
	nchunks := src.nchunks
	res := &FloorResult{Chunks: nchunks, ByTable: map[string]time.Duration{}}
	for _, t := range tables {
		if _, err := conn.Exec(ctx, `CREATE TABLE `+t.dst.Sanitize()+` (LIKE `+t.src.Sanitize()+` INCLUDING ALL)`); err != nil {
			return nil, err
		}
		res.Rows += t.rows
	}
	var pat *pgPattern
	if pattern {
		pat = planPGPattern(ns, tables, nchunks)
	}
	stop := startProfile("floor-postgres-" + kind)
	sp, err := timed(func() error {
		for c := 0; c < nchunks; c++ {
			tx, err := conn.Begin(ctx)
			if err != nil {
				return err
			}
			for _, t := range tables {
				t0 := time.Now()
				if pat != nil {
					if err := pat.write(ctx, tx, t, c, res.ByTable); err != nil {
						tx.Rollback(ctx)
						return err
					}
					continue
				}
				rows := t.chunks[c]
				if len(rows) == 0 {
					continue
				}
				if _, err := tx.CopyFrom(ctx, t.dst, t.cols, pgx.CopyFromRows(rows)); err != nil {
					tx.Rollback(ctx)
					return fmt.Errorf("copy %s: %w", t.dst.Sanitize(), err)
				}
				res.ByTable[t.src[1]] += time.Since(t0)
			}
			t0 := time.Now()
			if err := tx.Commit(ctx); err != nil {
				return err
			}
			res.ByTable["commit"] += time.Since(t0)
		}
		return nil
	})
	stop()
	if err != nil {
		return nil, err
	}
	res.Span = sp
	return res, nil
}

// readPGTable reads every row of schema.name, json and jsonb columns as
// text (COPY writes them back as they were), each assigned to its chunk.
func readPGTable(ctx context.Context, conn *pgx.Conn, ns, schema, name string, nchunks, batch int) (*pgTable, error) {
	rows, err := conn.Query(ctx, `SELECT column_name, data_type FROM information_schema.columns
		WHERE table_schema = $1 AND table_name = $2 AND is_generated = 'NEVER' ORDER BY ordinal_position`, schema, name)
	if err != nil {
		return nil, err
	}
	t := &pgTable{src: pgx.Identifier{schema, name}, chunks: map[int][][]any{}}
	var sel []string
	for rows.Next() {
		var col, typ string
		if err := rows.Scan(&col, &typ); err != nil {
			rows.Close()
			return nil, err
		}
		t.cols, t.types = append(t.cols, col), append(t.types, typ)
		if typ == "json" || typ == "jsonb" {
			sel = append(sel, `t.`+quoteIdent(col)+`::text`)
		} else {
			sel = append(sel, `t.`+quoteIdent(col))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	q := `SELECT ` + pgChunkExpr(ns, schema, name) + `, ` + strings.Join(sel, ", ") + ` FROM ` + t.src.Sanitize() + ` t`
	if name == "ledger" {
		q += ` ORDER BY "sequence"`
	}
	rows, err = conn.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return nil, err
		}
		chunk := nchunks - 1
		if seq, ok := vals[0].(int64); ok && seq > 0 {
			chunk = min(int((seq-1)/int64(batch)), nchunks-1)
		}
		t.chunks[chunk] = append(t.chunks[chunk], vals[1:])
		t.rows++
	}
	return t, rows.Err()
}

// runPostgresMain is the -postgres command: measurements on the server,
// then the report.
func runPostgresMain(ctx context.Context, p Params, project, cpuprofile string) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	defs, err := LoadProject(project)
	if err != nil {
		return err
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	p = p.withDefaults()
	t0 := time.Now()
	w := Generate(p)
	printHeader(out, w, time.Since(t0))
	var version string
	if conn, err := pgx.Connect(ctx, *pgURL); err == nil {
		conn.QueryRow(ctx, `SHOW server_version`).Scan(&version)
		conn.Close(ctx)
	}
	fmt.Fprintf(out, "PostgreSQL %s at %s; each measurement in a fresh namespace bench_<hex>, dropped at the end\n", version, redactURL(*pgURL))
	var prof io.Writer
	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		prof = f
	}
	rep, err := RunPostgres(ctx, defs, w, *pgURL, *shardRounds, prof, func(f string, a ...any) { progress(out, f, a...) })
	if err != nil {
		return err
	}
	printPGReport(out, rep)
	return nil
}

func printPGReport(out io.Writer, rep *PGReport) {
	n := rep.Events
	fmt.Fprintln(out)
	fmt.Fprintln(out, "Rates are events (ledger rows) per second of wall-clock time and per second of harness CPU time (user+system;")
	fmt.Fprintln(out, "the PostgreSQL server's CPU is not in it); ratios divide the first rate by the second, both measured in this run.")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "measurement\tevents\twall s\tCPU s\tevents/s\tevents/CPU-s\tratio wall\tratio CPU\tgoal\t")
	row := func(name string, sp Span) {
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.2f\t%.0f\t%.0f\t\t\t\t\n", name, n, sp.Wall.Seconds(), sp.CPU.Seconds(),
			rate(n, sp.Wall), rate(n, sp.CPU))
	}
	ratio := func(a, b time.Duration) string { // of rates over the same n: b/a
		if a <= 0 || b <= 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f", b.Seconds()/a.Seconds())
	}
	ratioRow := func(name string, a, b Span, goal string) {
		fmt.Fprintf(tw, "%s\t\t\t\t\t\t%s\t%s\t%s\t\n", name, ratio(a.Wall, b.Wall), ratio(a.CPU, b.CPU), goal)
	}
	floor := rep.Floor.Span
	row("1 Ingest Process (defacto)", rep.Process)
	row(fmt.Sprintf("2 floor: COPY of the same %d rows", rep.Floor.Rows), floor)
	ratioRow("  Process / floor", rep.Process, floor, ">= 0.70")
	pfloor := rep.PatternFloor.Span
	row("  floor with the engine's write pattern", pfloor)
	ratioRow("  Process / pattern floor", rep.Process, pfloor, "")
	row("3 Ingest AppendOnly, TotalShards 1", rep.Append1)
	row(fmt.Sprintf("  Ingest AppendOnly, TotalShards %d", pgShards), rep.AppendN)
	b1 := Span{Wall: rep.Build1.Wall, CPU: rep.Build1.CPU}
	bn := Span{Wall: rep.BuildN.Wall, CPU: rep.BuildN.CPU}
	row(fmt.Sprintf("4 Build, 1 process (process wall, median of %d)", len(rep.Rounds)), b1)
	row(fmt.Sprintf("  Build, %d processes (process wall)", pgShards), bn)
	ratioRow(fmt.Sprintf("  speedup at %d (process wall)", pgShards), bn, b1, ">= 1.70")
	row("  Build, 1 process (Build call)", Span{Wall: rep.Build1.BuildWall, CPU: rep.Build1.CPU})
	row(fmt.Sprintf("  Build, %d processes (longest Build call)", pgShards), Span{Wall: rep.BuildN.BuildWall, CPU: rep.BuildN.CPU})
	ratioRow(fmt.Sprintf("  speedup at %d (Build call)", pgShards), Span{Wall: rep.BuildN.BuildWall, CPU: rep.BuildN.CPU},
		Span{Wall: rep.Build1.BuildWall, CPU: rep.Build1.CPU}, "")
	tw.Flush()

	fmt.Fprintln(out)
	var per []string
	for _, r := range rep.Rounds {
		per = append(per, fmt.Sprintf("%.2f/%.2fs = %.2f", r[0].Wall.Seconds(), r[1].Wall.Seconds(), r[0].Wall.Seconds()/r[1].Wall.Seconds()))
	}
	fmt.Fprintf(out, "Shard rounds (1 process / %d processes = speedup): %s\n", pgShards, strings.Join(per, ", "))
	if b := rep.Build1.Busy; b > 0 {
		// Every process counts in the machine's busy time; the speedup can
		// be no larger than the CPUs the single build left idle allow.
		ncpu := float64(runtime.NumCPU())
		fmt.Fprintf(out, "Machine CPUs busy (harness, PostgreSQL server, anything else), of %d: %.2f during the median 1-process build,\n", runtime.NumCPU(), b)
		fmt.Fprintf(out, "  %.2f during the median %d-process one (hypervisor steal %.2f and %.2f). So on this machine a %d-process build\n",
			rep.BuildN.Busy, pgShards, rep.Build1.Steal, rep.BuildN.Steal, pgShards)
		fmt.Fprintf(out, "  can be at most %.2f times as fast as the 1-process one (CPUs / busy CPUs of the 1-process build, capped at %d).\n",
			min(ncpu/b, float64(pgShards)), pgShards)
	}

	fmt.Fprintln(out)
	fmt.Fprintln(out, "Details")
	r := rep.ProcRes
	fmt.Fprintf(out, "  Process: processed %d, created %d, recomputed %d, late %d, merges %d, interpretation failures %d\n",
		r.EventsProcessed, r.EntitiesCreated, r.EntitiesRecomputed, r.LateArrivals, r.MergesDetected, r.InterpretationFailures)
	fmt.Fprintf(out, "  Process timing (s): normalize %.2f, append %.2f, identity %.2f, interpret %.2f, total %.2f\n",
		r.Timing.Normalize, r.Timing.Append, r.Timing.Identity, r.Timing.Interpret, r.Timing.Total)
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(rep.FloorRows)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, rep.FloorRows[k]))
	}
	fmt.Fprintf(out, "  Floor rows (%d transactions): %s\n", rep.Floor.Chunks, strings.Join(parts, ", "))
	printByTable(out, "Floor", rep.Floor.ByTable)
	printByTable(out, "Pattern floor", rep.PatternFloor.ByTable)
	for _, sr := range []*ShardRun{rep.Build1, rep.BuildN} { // the median runs
		for _, c := range sr.Children {
			fmt.Fprintf(out, "  Build shard %d/%d: mode %s, processed %d, created %d, recomputed %d, rows written %d; open %.2fs, Build %.2fs wall (identity %.2f, interpret %.2f, tick %.2f), %.2fs CPU\n",
				c.Shard, c.Total, c.Mode, c.Processed, c.Created, c.Recomputed, c.RowsWritten,
				c.Open.Seconds(), c.Build.Seconds(), c.Timing.Identity, c.Timing.Interpret, c.Timing.Tick, c.CPU.Seconds())
		}
	}
}

// redactURL hides a password in a connection URL.
func redactURL(url string) string {
	i := strings.Index(url, "://")
	at := strings.LastIndex(url, "@")
	if i < 0 || at < i {
		return url
	}
	user, _, ok := strings.Cut(url[i+3:at], ":")
	if !ok {
		return url
	}
	return url[:i+3] + user + ":xxxxx" + url[at:]
}
