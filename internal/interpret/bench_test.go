package interpret

import (
	"testing"
	"time"

	"github.com/defacto-dev/defacto/internal/value"
)

// benchRun returns a run on an existing active customer (scenario 050's
// entity: nine properties, one computed).
func benchRun(b *testing.B) (*Machine, *Run) {
	m := machine(customer(), nil)
	r := m.Start("c1", nil, nil, nil)
	r.Apply(ev(1, "signup", "2024-01-15T10:00:00Z", "email", alice))
	r.Apply(ev(2, "activate", "2024-01-15T11:00:00Z", "email", alice, "mrr", 10.0))
	if len(r.Failures) > 0 || r.State.State != "active" {
		b.Fatalf("setup: %+v", r.Failures)
	}
	return m, r
}

// upgrades returns two upgrade events (guard event.plan != entity.plan, then
// set plan from the event) that alternate the plan.
func upgrades() [2]*Event {
	return [2]*Event{
		{Seq: 3, Type: "upgrade", Source: "app", ID: "e3", Data: map[string]value.Value{"email": vS(alice), "plan": vS("pro")}},
		{Seq: 4, Type: "upgrade", Source: "app", ID: "e4", Data: map[string]value.Value{"email": vS(alice), "plan": vS("team")}},
	}
}

// BenchmarkApply measures applying one typical event to an existing state:
// a guard reading event and entity, then a set from the event.
func BenchmarkApply(b *testing.B) {
	step := time.Minute.Microseconds()
	b.Run("guard_and_set", func(b *testing.B) {
		_, r := benchRun(b)
		evs := upgrades()
		at := r.State.LastAppliedTime
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			e := evs[i&1]
			at += step
			e.Time = at
			r.Apply(e)
			r.Rows = r.Rows[:0] // the engine consumes the rows
			i++
		}
		if len(r.Failures) > 0 {
			b.Fatal(r.Failures)
		}
	})
	b.Run("guard_false", func(b *testing.B) {
		_, r := benchRun(b)
		e := upgrades()[0]
		at := r.State.LastAppliedTime
		e.Time = at + step
		r.Apply(e) // plan is now pro: the guard is false from here on
		b.ReportAllocs()
		for b.Loop() {
			at += step
			e.Time = at
			r.Apply(e)
		}
	})
	b.Run("start_and_apply", func(b *testing.B) {
		m, r := benchRun(b)
		st := r.State
		base := r.Rows[len(r.Rows)-1]
		evs := upgrades()
		at := st.LastAppliedTime
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			e := evs[i&1]
			at += step
			e.Time = at
			run := m.Start("c1", st, &base, nil)
			run.Apply(e)
			st = run.State
			i++
		}
	})
}

// BenchmarkRecompute measures rebuilding an entity from 20 events with a
// time-rule firing.
func BenchmarkRecompute(b *testing.B) {
	m := machine(showcase(), nil)
	events := []*Event{ev(1, "signup", "2024-01-01T00:00:00Z", "email", alice)}
	events = append(events, ev(2, "subscribe", "2024-01-02T00:00:00Z", "plan", "pro", "mrr", 49.0))
	at := ts("2024-01-03T00:00:00Z")
	for i := range 18 {
		e := ev(int64(3+i), "login", "2024-01-03T00:00:00Z")
		e.Time = at + int64(i)*time.Hour.Microseconds()
		events = append(events, e)
	}
	horizon := ts("2024-12-31T00:00:00Z")
	b.ReportAllocs()
	for b.Loop() {
		r := m.Recompute("c1", events, horizon)
		if r.State.State != "churned" {
			b.Fatal(r.State.State)
		}
	}
}
