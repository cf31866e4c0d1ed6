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
func BenchmarkTickOnePercentDue(b *testing.B) {
	n := 100000
	if s := os.Getenv("DEFACTO_BENCH_ENTITIES"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	ctx := context.Background()
	defs, err := defacto.ParseDefinitions([]byte(tickBenchDefs))
	if err != nil {
		b.Fatal(err)
	}
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	d, err := defacto.OpenDefinitions(ctx, defs, &defacto.Config{
		Database: filepath.Join(b.TempDir(), "tick.db"), BatchSize: 1000,
		Clock: func() time.Time { return start },
	})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	events := make([]defacto.Event, 0, n)
	for i := range n {
		at := start.AddDate(0, 0, i%100).Add(time.Duration(i/100) * time.Second)
		events = append(events, defacto.Event{"type": "signup", "ts": at.Format(time.RFC3339), "email": fmt.Sprintf("c%d@x.io", i)})
	}
	if res, err := d.Ingest(ctx, "app", events, defacto.Process); err != nil || res.EventsIngested != n {
		b.Fatalf("setup: %+v %v", res, err)
	}
	// The first day's trials expire on day 14; ticking to the end of day
	// 14+k expires exactly day k's entities.
	day := 0
	b.ResetTimer()
	for b.Loop() {
		if day >= 100 {
			b.Fatal("more than 100 iterations: run with -benchtime=Nx, N <= 100")
		}
		asOf := start.AddDate(0, 0, 14+day).Add(24*time.Hour - time.Microsecond)
		res, err := d.Tick(ctx, asOf)
		if err != nil {
			b.Fatal(err)
		}
		if res.RulesFired != n/100 {
			b.Fatalf("tick %d fired %d rules, want %d", day, res.RulesFired, n/100)
		}
		day++
	}
	b.ReportMetric(float64(n/100), "due/op")
}
