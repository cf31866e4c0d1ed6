// Command harness measures defacto's throughput on a generated workload and
// reports each number beside a reference measured in the same run, as a
// ratio:
//
//	go run ./bench/harness -events 100000 -customers 20000 [-cpuprofile cpu.pprof] [-profiledir dir]
//
// Measurements, in order (bench/README.md has the method and a run):
//
//  0. A Process ingest of half the events over the same customers, for the
//     heap comparison (first, so nothing else is live).
//  1. Ingest(ctx, "app", events, Process) on a fresh SQLite file (profiled
//     with -cpuprofile; heap sampled).
//  2. The floor: the rows run 1 left in the database (ledger, identity,
//     entity_ids, event_entities, merge_log; history, entity_state,
//     merged_ids), read back with SQL and inserted raw into an empty
//     database pair with the same DDL, 100 ledger rows and the rows they
//     produced per transaction, through prepared statements, with the SQLite
//     settings read from a connection of the engine's own store. Also the
//     pattern floor (pattern.go: the same rows plus the closes and
//     working-state upserts of the chunk rule) and the ledger rows alone,
//     each floor in a directory of its own.
//  3. On another fresh file: AppendOnly ingest, incremental Build, full
//     rebuild (BuildOptions{Full: true}) and Tick.
//  4. A raw ledger scan: SELECT every ledger row, json-decode data.
//
// Each measurement also counts its write system calls (internal/procstat),
// which, unlike times, do not move with the machine's load.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/defacto-dev/defacto"
	"github.com/defacto-dev/defacto/internal/procstat"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "harness:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		p          Params
		project    = flag.String("project", "", "project directory (default: the embedded bench/harness/testdata/project)")
		cpuprofile = flag.String("cpuprofile", "", "write a CPU profile of the Process ingest (measurement 1) to `file`")
		tmp        = flag.String("tmp", "", "directory in which to make the run's database directory (default: the system's)")
		keep       = flag.Bool("keep", false, "keep the databases")
		noMem      = flag.Bool("nomem", false, "skip the extra half-size Process run of the heap comparison")
		noTick     = flag.Bool("notick", false, "skip Tick")
	)
	flag.StringVar(&profileDir, "profiledir", "", "write CPU profiles of the other measurements (floors, AppendOnly, builds, tick, scan) to `dir`")
	flag.IntVar(&p.Events, "events", DefaultEvents, "events to generate")
	flag.IntVar(&p.Customers, "customers", DefaultCustomers, "customers to generate")
	flag.IntVar(&p.Merges, "merges", 0, "merging profile_update events (default events*3/1000)")
	flag.Float64Var(&p.LateShare, "late", DefaultLateShare, "probability that an event after a customer's signup is a late (out-of-order) login")
	flag.Uint64Var(&p.Seed, "seed", DefaultSeed, "generator seed")
	flag.IntVar(&p.Batch, "batch", defacto.DefaultBatchSize, "records per ingest chunk (Config.BatchSize) and per floor transaction")
	flag.Parse()
	ctx := context.Background()
	if *shardChild >= 0 { // re-executed as one shard process (postgres.go)
		return runShardChild(ctx, *project)
	}
	if *pgURL != "" {
		return runPostgresMain(ctx, p, *project, *cpuprofile)
	}

	if *tmp != "" {
		if err := os.MkdirAll(*tmp, 0o755); err != nil {
			return err
		}
	}
	base, err := os.MkdirTemp(*tmp, "defacto-bench-")
	if err != nil {
		return err
	}
	if !*keep {
		defer os.RemoveAll(base)
	}
	if profileDir != "" {
		if err := os.MkdirAll(profileDir, 0o755); err != nil {
			return err
		}
	}
	defs, err := LoadProject(*project)
	if err != nil {
		return err
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	p = p.withDefaults()

	// 0. Heap at half the events over the same customers, first, so that
	// nothing of the other measurements is live.
	var half *ProcessRun
	halfEvents, halfCustomers := 0, 0
	if !*noMem {
		hp := p
		hp.Events, hp.Merges = p.Events/2, p.Merges/2
		hw := Generate(hp)
		halfEvents, halfCustomers = len(hw.Events), hw.Params.Customers
		hdir, err := freshDir(base, "process-half")
		if err != nil {
			return err
		}
		if half, err = RunProcess(ctx, defs, hw, hdir, nil); err != nil {
			return fmt.Errorf("half-size run: %w", err)
		}
	}

	t0 := time.Now()
	w := Generate(p)
	genTime := time.Since(t0)
	n := len(w.Events)
	printHeader(out, w, genTime)
	if half != nil {
		progress(out, "half-size Process run (heap) done: %d events in %.2fs", halfEvents, half.Wall.Seconds())
	}

	// 1. Process ingest.
	procDir, err := freshDir(base, "process")
	if err != nil {
		return err
	}
	var proc *ProcessRun
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		proc, err = RunProcess(ctx, defs, w, procDir, f)
		if cerr := f.Close(); err == nil && cerr != nil {
			return cerr
		}
		if err != nil {
			return err
		}
	} else if proc, err = RunProcess(ctx, defs, w, procDir, nil); err != nil {
		return err
	}
	progress(out, "Process ingest done: %.2fs", proc.Wall.Seconds())

	// 2. Floors, from the rows run 1 left.
	snap, err := ReadSnapshot(ctx, procDir, p.Batch)
	if err != nil {
		return fmt.Errorf("read back: %w", err)
	}
	pragmas, err := ReadEnginePragmas(ctx, procDir)
	if err != nil {
		return fmt.Errorf("read the engine's pragmas: %w", err)
	}
	// Each floor in a directory of its own, so -keep keeps all three.
	runFloor := func(name string, o FloorOptions) (*FloorResult, error) {
		dir, err := freshDir(base, name)
		if err != nil {
			return nil, err
		}
		return Floor(ctx, snap, dir, o, pragmas, name)
	}
	floor, err := runFloor("floor", FloorOptions{})
	if err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	patFloor, err := runFloor("floor-pattern", FloorOptions{Pattern: true})
	if err != nil {
		return fmt.Errorf("pattern floor: %w", err)
	}
	splitFloor, err := runFloor("floor-split", FloorOptions{Pattern: true, Split: true})
	if err != nil {
		return fmt.Errorf("split pattern floor: %w", err)
	}
	ledgerFloor, err := runFloor("floor-ledger", FloorOptions{Keep: func(t *Table) bool { return t.Schema == "main" && t.Name == "ledger" }})
	if err != nil {
		return fmt.Errorf("ledger floor: %w", err)
	}
	ledgerRows := snap.LedgerRows
	var tableRows []string
	for _, t := range snap.Tables {
		if len(t.Rows) > 0 {
			tableRows = append(tableRows, fmt.Sprintf("%s.%s %d", t.Schema, t.Name, len(t.Rows)))
		}
	}
	snap = nil
	progress(out, "floors done")

	// 3. Append-only path, builds, tick.
	appDir, err := freshDir(base, "append")
	if err != nil {
		return err
	}
	app, err := RunAppend(ctx, defs, w, appDir, !*noTick)
	if err != nil {
		return err
	}
	progress(out, "append-only path done")

	// 4. Raw ledger scan of the same ledger.
	stop := startProfile("scan")
	scanned, scan, err := ScanLedger(ctx, appDir, pragmas)
	stop()
	if err != nil {
		return fmt.Errorf("ledger scan: %w", err)
	}

	fmt.Fprintln(out)
	fmt.Fprintln(out, "Rates are events (ledger rows) per second of wall-clock time and per second of process CPU time (user+system);")
	fmt.Fprintln(out, "ratios divide the defacto rate by the reference rate of the same kind, both measured in this run.")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "measurement\tevents\twall s\tCPU s\tevents/s\tevents/CPU-s\tratio wall\tratio CPU\tgoal\t")
	row := func(name string, events int, sp Span) {
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.2f\t%.0f\t%.0f\t\t\t\t\n", name, events, sp.Wall.Seconds(), sp.CPU.Seconds(),
			rate(events, sp.Wall), rate(events, sp.CPU))
	}
	ratio := func(a, b float64) string {
		if a <= 0 || b <= 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f", a/b)
	}
	// ratioRow compares a rate measured on na events over sa with one on
	// nb rows over sb.
	ratioRow := func(name string, na int, sa Span, nb int, sb Span, goal string) {
		fmt.Fprintf(tw, "%s\t\t\t\t\t\t%s\t%s\t%s\t\n", name,
			ratio(rate(na, sa.Wall), rate(nb, sb.Wall)), ratio(rate(na, sa.CPU), rate(nb, sb.CPU)), goal)
	}
	floorSpan := floor.Span
	ledgerSpan := ledgerFloor.Span
	appBuild := app.Append.add(app.Build)
	row("1 Ingest Process (defacto)", n, proc.Span)
	row(fmt.Sprintf("2 floor: raw insert of the same %d rows", floor.Rows), ledgerRows, floorSpan)
	ratioRow("  Process / floor", n, proc.Span, ledgerRows, floorSpan, ">= 0.70")
	patSpan := patFloor.Span
	row("  floor with the engine's write pattern", ledgerRows, patSpan)
	ratioRow("  Process / pattern floor", n, proc.Span, ledgerRows, patSpan, "")
	row("  pattern floor, the two files on two connections", ledgerRows, splitFloor.Span)
	ratioRow("  Process / split pattern floor", n, proc.Span, ledgerRows, splitFloor.Span, "")
	row("3 Ingest AppendOnly (defacto)", n, app.Append)
	row(fmt.Sprintf("  floor: raw insert of the %d ledger rows", ledgerFloor.Rows), ledgerRows, ledgerSpan)
	ratioRow("  AppendOnly / ledger floor", n, app.Append, ledgerRows, ledgerSpan, "")
	row("4 Build incremental (after 3)", n, app.Build)
	row("  AppendOnly + Build", n, appBuild)
	ratioRow("  (AppendOnly + Build) / Process", n, appBuild, n, proc.Span, "")
	row("5 Build full rebuild", n, app.Rebuild)
	row("6 raw ledger scan + json decode", scanned, scan)
	ratioRow("  full rebuild / scan", n, app.Rebuild, scanned, scan, ">= 0.50")
	tw.Flush()

	if _, ok := procstat.Writes(); ok {
		fmt.Fprintln(out)
		fmt.Fprintln(out, "Writes per 1000 events (write system calls and MiB passed to them, from /proc/self/io): exact, so they do not")
		fmt.Fprintln(out, "move with the machine's load; SQLite writes each WAL frame with two calls and each checkpointed page with one.")
		tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "measurement\twrite calls\tMiB\tcalls / floor's\t")
		ioRow := func(name string, sp, ref Span) {
			per := float64(n) / 1000
			rel := "-"
			if ref.IO.Writes > 0 {
				rel = fmt.Sprintf("%.2f", float64(sp.IO.Writes)/float64(ref.IO.Writes))
			}
			fmt.Fprintf(tw, "%s\t%.0f\t%.2f\t%s\t\n", name, float64(sp.IO.Writes)/per, float64(sp.IO.WriteBytes)/per/(1<<20), rel)
		}
		ioRow("1 Ingest Process (defacto)", proc.Span, floorSpan)
		ioRow("2 floor", floorSpan, floorSpan)
		ioRow("  pattern floor", patSpan, floorSpan)
		ioRow("3 Ingest AppendOnly (defacto)", app.Append, ledgerSpan)
		ioRow("  ledger floor", ledgerSpan, ledgerSpan)
		ioRow("4 Build incremental", app.Build, Span{})
		ioRow("5 Build full rebuild", app.Rebuild, Span{})
		tw.Flush()
	}

	fmt.Fprintln(out)
	if app.TickRes == nil {
		fmt.Fprintln(out, "7 Tick: skipped (-notick)")
	} else {
		tr := app.TickRes
		fmt.Fprintf(out, "7 Tick as of %s: %d entities evaluated in %.2fs wall, %.2fs CPU (%.0f entities/s); %d changed, %d rules fired, %d rows written\n",
			app.TickAsOf.Format(time.DateOnly), tr.EntitiesEvaluated, app.Tick.Wall.Seconds(), app.Tick.CPU.Seconds(),
			rate(tr.EntitiesEvaluated, app.Tick.Wall), tr.EntitiesChanged, tr.RulesFired, tr.RowsWritten)
	}

	fmt.Fprintln(out)
	fmt.Fprintln(out, "8 heap of a Process ingest, MiB. HeapInuse: base after GC before the call (the input events are live),")
	fmt.Fprintln(out, "  peak sampled every 5ms (depends on GC pacing, so on base); live: the live heap the GC marked, same points;")
	fmt.Fprintln(out, "  after: after GC once the call returned (the result is live)")
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "events\tcustomers\tinuse base\tinuse peak\tpeak-base\tlive base\tlive peak\tpeak-base\tafter-base\t")
	mem := func(events, customers int, r *ProcessRun) {
		fmt.Fprintf(tw, "%d\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t\n", events, customers,
			mib(r.HeapBase), mib(r.HeapPeak), mib(r.HeapPeak)-mib(r.HeapBase),
			mib(r.LiveBase), mib(r.LivePeak), mib(r.LivePeak)-mib(r.LiveBase), mib(r.LiveAfter)-mib(r.LiveBase))
	}
	if half != nil {
		mem(halfEvents, halfCustomers, half)
	}
	mem(n, p.Customers, proc)
	tw.Flush()

	fmt.Fprintln(out)
	fmt.Fprintln(out, "Details")
	r := proc.Result
	fmt.Fprintf(out, "  Process: processed %d, created %d, updated %d, recomputed %d, late %d, merges %d, interpretation failures %d\n",
		r.EventsProcessed, r.EntitiesCreated, r.EntitiesUpdated, r.EntitiesRecomputed, r.LateArrivals, r.MergesDetected, r.InterpretationFailures)
	fmt.Fprintf(out, "  Process timing (s): normalize %.2f, append %.2f, identity %.2f, interpret %.2f, total %.2f\n",
		r.Timing.Normalize, r.Timing.Append, r.Timing.Identity, r.Timing.Interpret, r.Timing.Total)
	b := app.BuildRes
	fmt.Fprintf(out, "  Build: mode %s, processed %d, created %d, recomputed %d, late %d, merges %d, rows written %d; identity %.2fs, interpret %.2fs\n",
		b.Mode, b.EventsProcessed, b.EntitiesCreated, b.EntitiesRecomputed, b.LateArrivals, b.MergesDetected, b.RowsWritten,
		b.Timing.Identity, b.Timing.Interpret)
	fb := app.RebuildRes
	fmt.Fprintf(out, "  Rebuild: mode %s, processed %d, recomputed %d, rows written %d, superseded %d; interpret %.2fs\n",
		fb.Mode, fb.EventsProcessed, fb.EntitiesRecomputed, fb.RowsWritten, fb.RowsSuperseded, fb.Timing.Interpret)
	fmt.Fprintf(out, "  Floor rows (%d transactions): %s\n", floor.Chunks, strings.Join(tableRows, ", "))
	fmt.Fprintf(out, "  Floor settings, read from an engine connection: %s\n", pragmas)
	printByTable(out, "Floor", floor.ByTable)
	printByTable(out, "Pattern floor", patFloor.ByTable)
	if *keep {
		fmt.Fprintln(out, "  databases kept in", base)
	}
	return nil
}

func printHeader(out io.Writer, w *Workload, gen time.Duration) {
	p := w.Params
	fmt.Fprintf(out, "defacto bench harness: %s %s/%s, GOMAXPROCS %d, NumCPU %d, CPU %s\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0), runtime.NumCPU(), cpuModel())
	fmt.Fprintf(out, "workload: seed %d, %d events, %d customers, %d merges, %d late (%.1f%%), %s .. %s, generated in %.2fs\n",
		p.Seed, len(w.Events), p.Customers, w.Merges, w.Late, 100*float64(w.Late)/float64(max(1, len(w.Events))),
		p.Start.Format(time.DateOnly), w.End.Format(time.DateOnly), gen.Seconds())
	fmt.Fprintf(out, "event types:")
	for _, t := range []string{"signup", "subscribe", "upgrade", "login", "cancel", "profile_update"} {
		fmt.Fprintf(out, " %s %d", t, w.ByType[t])
	}
	fmt.Fprintln(out)
}

func progress(out *bufio.Writer, format string, args ...any) {
	fmt.Fprintf(out, "  .. "+format+"\n", args...)
	out.Flush()
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// cpuModel reads the processor name on Linux.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
