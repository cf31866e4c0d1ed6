package defacto

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/defacto-dev/defacto/internal/store"
)

// tickDefsPath holds the tick tests' definitions, shared with the tick
// benchmarks.
const tickDefsPath = "testdata/tick.yaml"

// countingStore counts write transactions.
type countingStore struct {
	store.Store
	begins atomic.Int64
}

func (s *countingStore) Begin(ctx context.Context) (store.Tx, error) {
	s.begins.Add(1)
	return s.Store.Begin(ctx)
}

// openTickTest opens an engine on tickDefsPath with the clock at
// 2024-01-01 (so ingests fire no time rule) and ingests events, given as
// type:email:offset-in-seconds.
func openTickTest(t *testing.T, events ...string) (*Engine, *countingStore) {
	t.Helper()
	ctx := context.Background()
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	e := openTickEngine(t, func() time.Time { return start })
	var evs []Event
	for _, s := range events {
		var typ, email string
		var sec int
		if _, err := fmt.Sscanf(strings.ReplaceAll(s, ":", " "), "%s %s %d", &typ, &email, &sec); err != nil {
			t.Fatalf("event %q: %v", s, err)
		}
		evs = append(evs, Event{"type": typ, "email": email, "ts": start.Add(time.Duration(sec) * time.Second).Format(time.RFC3339)})
	}
	if res, err := e.Ingest(ctx, "app", evs, Process); err != nil || res.EventsIngested != len(evs) {
		t.Fatalf("ingest: %+v %v", res, err)
	}
	cs := &countingStore{Store: e.st}
	e.st = cs
	return e, cs
}

// openTickEngine opens an engine on tickDefsPath with clock, closed with
// the test.
func openTickEngine(t *testing.T, clock func() time.Time) *Engine {
	t.Helper()
	src, err := os.ReadFile(tickDefsPath)
	if err != nil {
		t.Fatal(err)
	}
	defs, err := ParseDefinitions(src)
	if err != nil {
		t.Fatal(err)
	}
	e, err := OpenDefinitions(context.Background(), defs, &Config{
		Database: filepath.Join(t.TempDir(), "tick.db"), Clock: clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func customerStates(t *testing.T, e *Engine) map[string]string {
	t.Helper()
	rows, err := e.Table("customer").Select("email", "customer_state").Execute(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for i := range rows.Len() {
		r := rows.Row(i)
		out[r[0].(string)] = r[1].(string)
	}
	return out
}

// A tick whose due entities fit one batch is one write transaction: the
// horizon is raised in it, not in a transaction of its own.
func TestTickSmallIsOneTransaction(t *testing.T) {
	e, cs := openTickTest(t, "signup:c1:0", "signup:c2:1", "signup:c3:86400")
	ctx := context.Background()
	res, err := e.Tick(ctx, "2024-01-15T12:00:00Z")
	if err != nil {
		t.Fatal(err)
	}
	if res.EntitiesEvaluated != 2 || res.RulesFired != 2 || res.RowsWritten != 2 {
		t.Errorf("tick: %+v", res)
	}
	if n := cs.begins.Load(); n != 1 {
		t.Errorf("tick used %d write transactions, want 1", n)
	}
	st, err := e.BuildStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.TickHorizon == nil || *st.TickHorizon != res.AsOf {
		t.Errorf("tick horizon %v, want %s", st.TickHorizon, res.AsOf)
	}
	// Nothing due: still one transaction, which raises the horizon.
	cs.begins.Store(0)
	if res, err = e.Tick(ctx, "2024-01-15T13:00:00Z"); err != nil || res.EntitiesEvaluated != 0 {
		t.Fatalf("empty tick: %+v %v", res, err)
	}
	if n := cs.begins.Load(); n != 1 {
		t.Errorf("empty tick used %d write transactions, want 1", n)
	}
	if _, err := e.Tick(ctx, "2024-01-15T12:30:00Z"); !strings.Contains(fmt.Sprint(err), "before the last tick") {
		t.Errorf("tick before the horizon: %v", err)
	}
	want := map[string]string{"c1": "expired", "c2": "expired", "c3": "trial"}
	if got := customerStates(t, e); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("states %v, want %v", got, want)
	}
}

// Batches continue after the last entity of the previous one: entities
// still due after their evaluation (spinners stopped at the loop limit, whose
// deadlines sort first) are read once, and the tick reaches the trials
// behind them however small the batch.
func TestTickBatchesPassEntitiesStillDue(t *testing.T) {
	e, cs := openTickTest(t, "spin:s1:0", "spin:s2:0", "spin:s3:0", "signup:c1:0", "signup:c2:0")
	ctx := context.Background()
	at, err := parseInstant("2024-02-01")
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.tickBatches(ctx, at, nil, 2, true)
	if err != nil {
		t.Fatal(err)
	}
	if res.EntitiesEvaluated != 5 || res.EntitiesChanged != 5 || len(res.Failures) != 3 {
		t.Errorf("tick: evaluated %d, changed %d, %d failures; want 5, 5, 3", res.EntitiesEvaluated, res.EntitiesChanged, len(res.Failures))
	}
	for _, f := range res.Failures {
		if !strings.Contains(f.Message, "loop limit") {
			t.Errorf("failure %+v", f)
		}
	}
	if n := cs.begins.Load(); n < 3 {
		t.Errorf("%d write transactions for 5 due entities in batches of 2, want at least 3", n)
	}
	got := customerStates(t, e)
	if got["c1"] != "expired" || got["c2"] != "expired" {
		t.Errorf("trials behind the spinners: %v", got)
	}
	// The spinners are still due; the next tick evaluates them again.
	res, err = e.tickBatches(ctx, at+1, nil, 2, true)
	if err != nil {
		t.Fatal(err)
	}
	if res.EntitiesEvaluated != 3 {
		t.Errorf("second tick evaluated %d, want the 3 spinners", res.EntitiesEvaluated)
	}
}

// A crash between an incremental build's last interpretation commit and its
// closing tick leaves the build state's TickPending set: the next build runs
// that tick even though nothing else is pending, instead of skipping.
func TestInterruptedClosingTickIsFinished(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	e := openTickEngine(t, func() time.Time { return now })
	if _, err := e.Ingest(ctx, "app", []Event{{"type": "signup", "email": "a@x.io", "ts": "2024-01-01T00:00:00Z"}}, AppendOnly); err != nil {
		t.Fatal(err)
	}
	// The build's interpretation commits; simulate a crash before its
	// closing tick by interpreting the way the build does and stopping.
	now = time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)
	if err := e.write(ctx, "test: identity", func(tx store.Tx) error {
		_, err := e.identityStageUpTo(ctx, tx, 1)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := e.write(ctx, "test: interpret", func(tx store.Tx) error {
		return e.interpretStage(ctx, tx, -1, nil, nil, newRunStats().pending, nil, true)
	}); err != nil {
		t.Fatal(err)
	}
	if got := customerStates(t, e)["a@x.io"]; got != "trial" {
		t.Fatalf("before the closing tick: %q, want trial", got)
	}
	res, err := e.Build(ctx, BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Mode != ModeIncremental || !strings.Contains(strings.Join(res.Reasons, ";"), "closing tick") {
		t.Fatalf("build after the interruption: %s %v, want INCREMENTAL for the closing tick", res.Mode, res.Reasons)
	}
	if got := customerStates(t, e)["a@x.io"]; got != "expired" {
		t.Fatalf("after the build: %q, want expired (the 14-day trial ended before %s)", got, now.Format(time.DateOnly))
	}
	if res, err := e.Build(ctx, BuildOptions{}); err != nil || res.Mode != ModeSkip {
		t.Fatalf("next build: %+v %v, want SKIP", res, err)
	}
}
