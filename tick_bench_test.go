package defacto_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/defacto-dev/defacto"
	"github.com/defacto-dev/defacto/internal/cputime"
)

const tickBenchDefs = `
entities:
  customer:
    starts: lead
    identity: {email: {}}
    properties: {email: {type: string}}
    states:
      lead:
        when:
          signup: {effects: [create, {set: {property: email, from: event.email}}, {transition: {to: trial}}]}
      trial:
        after: [{type: state_duration, threshold: 14d, effects: [{transition: {to: expired}}]}]
      expired: {}
sources:
  app:
    event_type: type
    timestamp: ts
    events:
      signup: {mappings: {email: email}, hints: {customer: [email]}}
`

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
	n := 100000
	if s := os.Getenv("DEFACTO_BENCH_ENTITIES"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 100 || n%100 != 0 {
			b.Fatalf("DEFACTO_BENCH_ENTITIES=%q: want a multiple of 100", s)
		}
	}
	due := n / 100
	ctx := context.Background()
	defs, err := defacto.ParseDefinitions([]byte(tickBenchDefs))
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
	// Reopen, which checkpoints the WAL: otherwise the first ticks would
	// also copy the ingest's last pages into the database files.
	if err := d.Close(); err != nil {
		b.Fatal(err)
	}
	if d, err = defacto.OpenDefinitions(ctx, defs, cfg); err != nil {
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
	cpu0 := cputime.Process()
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
	b.ReportMetric(float64(cputime.Process()-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
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
